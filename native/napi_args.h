// Reading and checking the Node-API arguments of one call: the pieces native/ops_generated.h
// puts together per entry point. Errors are thrown as ArgError (native/binding.cc turns them
// into a JavaScript TypeError or RangeError); their text comes from messages_generated.h, which
// the js backend's checks share (lib/backend/messages.generated.ts).
#pragma once

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "messages_generated.h"
#include "pool1d.h"
#include "pool2d.h"

namespace neurone {

constexpr int64_t kMaxDim = 2147483647;  // 2^31 - 1, as in the js backend

struct ArgError {
  bool isType;
  std::string message;
};

[[noreturn]] inline void throwType(const std::string& msg) { throw ArgError{true, msg}; }
[[noreturn]] inline void throwRange(const std::string& msg) { throw ArgError{false, msg}; }

// A value as the messages show it: "number 2.5", "Float64Array(6)", "null" (as describe in lib/tensor.ts).
inline std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsBoolean()) return std::string("boolean ") + (v.As<Napi::Boolean>().Value() ? "true" : "false");
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (std::isnan(d)) return "number NaN";
    if (std::isinf(d)) return d > 0 ? "number Infinity" : "number -Infinity";
    return "number " + Napi::Number::New(v.Env(), d).ToString().Utf8Value();
  }
  if (v.IsString()) return "string " + v.As<Napi::String>().Utf8Value();
  if (v.IsTypedArray()) {
    static const char* names[] = {"Int8Array",    "Uint8Array",    "Uint8ClampedArray", "Int16Array",
                                  "Uint16Array",  "Int32Array",    "Uint32Array",       "Float32Array",
                                  "Float64Array", "BigInt64Array", "BigUint64Array"};
    auto ta = v.As<Napi::TypedArray>();
    int t = static_cast<int>(ta.TypedArrayType());
    std::string name = (t >= 0 && t < 11) ? names[t] : "TypedArray";
    return name + "(" + std::to_string(ta.ElementLength()) + ")";
  }
  if (v.IsArray()) return "Array(" + std::to_string(v.As<Napi::Array>().Length()) + ")";
  if (v.IsFunction()) return "function";
  if (v.IsObject()) return "object";
  return "value";
}

// Whether a * b leaves int64, without a compiler builtin (the Windows prebuild uses MSVC): each
// case compares against the bound divided by the other factor, which C++ truncates toward
// zero, exactly where an integer product first crosses the bound.
inline bool productOverflows(int64_t a, int64_t b) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max(), kMin = std::numeric_limits<int64_t>::min();
  if (a == 0 || b == 0) return false;
  if (a > 0) return b > 0 ? a > kMax / b : b < kMin / a;
  return b > 0 ? a < kMin / b : a < kMax / b;
}

// Elements a (rows, cols) matrix with row stride ld spans from its first element.
inline int64_t matrixSpan(int64_t rows, int64_t cols, int64_t ld) {
  return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols;  // < 2^62 with capped inputs
}

// Outputs of a window of k positions moved by stride over length positions.
inline int64_t windowCount(int64_t length, int64_t k, int64_t stride) {
  return length < k ? 0 : (length - k) / stride + 1;
}

// Reads arguments of one call, naming each in errors as "<fn>: <name> ...".
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* fn, size_t count) : info_(info), fn_(fn) {
    if (info.Length() != count) throwType(msg::argCount(fn, std::to_string(count), std::to_string(info.Length())));
  }

  bool boolean(size_t i, const char* name) const {
    if (!info_[i].IsBoolean()) throwType(msg::notBoolean(fn_, name, describe(info_[i])));
    return info_[i].As<Napi::Boolean>().Value();
  }

  // A scalar for the float32 kernels: infinities and NaN pass, a finite value that a float32
  // cannot hold (it would silently become infinite) is refused.
  float number(size_t i, const char* name) const {
    if (!info_[i].IsNumber()) throwType(msg::notNumber(fn_, name, describe(info_[i])));
    const double d = info_[i].As<Napi::Number>().DoubleValue();
    const float f = static_cast<float>(d);
    if (std::isfinite(d) && !std::isfinite(f))
      throwRange(msg::notFloat32Range(fn_, name, describe(info_[i]).substr(7)));
    return f;
  }

  // A scalar the kernel keeps as a double (any number, infinities and NaN included).
  double float64(size_t i, const char* name) const {
    if (!info_[i].IsNumber()) throwType(msg::notNumber(fn_, name, describe(info_[i])));
    return info_[i].As<Napi::Number>().DoubleValue();
  }

  // A size: an integer in [min, 2^31-1]. NaN, Infinity and fractions are rejected.
  int64_t size(size_t i, const char* name, int64_t min = 0) const {
    if (!info_[i].IsNumber()) throwType(msg::notNumber(fn_, name, describe(info_[i])));
    double d = info_[i].As<Napi::Number>().DoubleValue();
    if (!(d >= static_cast<double>(min)) || !(d <= static_cast<double>(kMaxDim)) || d != std::floor(d)) {
      throwRange(msg::notSize(fn_, name, std::to_string(min), describe(info_[i]).substr(7)));
    }
    return static_cast<int64_t>(d);
  }

  // An enumeration code (a size) in [0, max].
  int64_t code(size_t i, const char* name, int64_t max) const {
    const int64_t c = size(i, name);
    if (c > max) throwRange(msg::notActivation(fn_, name, std::to_string(max), std::to_string(c)));
    return c;
  }

  // byteOffset (the view's offset into its buffer) is only for the overlap messages, which
  // give byte ranges the way the js backend can (lib/backend/validate.ts, checkDisjoint).
  struct F32 {
    float* data;
    int64_t length;
    int64_t byteOffset = 0;
  };
  F32 float32(size_t i, const char* name) const {
    auto v = info_[i];
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      throwType(msg::notFloat32Array(fn_, name, describe(v)));
    }
    auto a = v.As<Napi::Float32Array>();
    // A detached buffer reports length 0 (and may report a null pointer): the
    // length checks then reject it unless nothing is to be read.
    return {a.ElementLength() == 0 ? nullptr : a.Data(), static_cast<int64_t>(a.ElementLength()),
            static_cast<int64_t>(a.ByteOffset())};
  }

  struct I32 {
    int32_t* data;
    int64_t length;
    int64_t byteOffset = 0;
    // Whether the view's memory is a SharedArrayBuffer, which another thread may write while
    // this call runs (see snapshot).
    bool shared = false;
  };
  I32 int32(size_t i, const char* name) const {
    auto v = info_[i];
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
      throwType(msg::notInt32Array(fn_, name, describe(v)));
    }
    auto a = v.As<Napi::Int32Array>();
    // napi_is_arraybuffer is false for a SharedArrayBuffer (and true for a plain ArrayBuffer).
    napi_value buffer = nullptr;
    bool plain = false;
    if (napi_get_typedarray_info(info_.Env(), v, nullptr, nullptr, nullptr, &buffer, nullptr) != napi_ok ||
        napi_is_arraybuffer(info_.Env(), buffer, &plain) != napi_ok) {
      plain = false;  // unknown: treat as shared, so the values are copied
    }
    return {a.ElementLength() == 0 ? nullptr : a.Data(), static_cast<int64_t>(a.ElementLength()),
            static_cast<int64_t>(a.ByteOffset()), !plain};
  }

  bool isNull(size_t i) const { return info_[i].IsNull(); }

  void needLength(const char* name, int64_t have, int64_t needed) const {
    if (have < needed) throwRange(msg::tooShort(fn_, name, std::to_string(needed), std::to_string(have)));
  }

  void atLeast(const char* name, int64_t value, int64_t min) const {
    if (value < min) throwRange(msg::belowMinimum(fn_, name, std::to_string(min), std::to_string(value)));
  }

  // A count whose positions int32 indices (argmax) address.
  void int32Index(const char* what, int64_t count) const {
    if (count > kMaxDim) throwRange(msg::notInt32Index(fn_, what, std::to_string(count)));
  }

  // Each of the n entries (of the private copy) is a class index in [0, classes).
  void classIndices(const char* name, const int32_t* labels, int64_t n, int64_t classes) const {
    for (int64_t r = 0; r < n; r++) {
      if (labels[r] < 0 || labels[r] >= classes) {
        throwRange(
            msg::notClassIndex(fn_, name, std::to_string(r), std::to_string(classes), std::to_string(labels[r])));
      }
    }
  }

  const char* fn() const { return fn_; }

 private:
  const Napi::CallbackInfo& info_;
  const char* fn_;
};

// The product of sizes already capped at 2^31-1; throws instead of overflowing int64.
inline int64_t mulSizes(const Args& args, const char* what, std::initializer_list<int64_t> factors) {
  int64_t p = 1;
  for (int64_t f : factors) {
    if (productOverflows(p, f)) throwRange(msg::overflows(args.fn(), what));
    p *= f;
  }
  return p;
}

// The part of an array argument a kernel reads or writes: `count` elements from element
// `offset` (its length check has passed). `output`: the kernel writes it.
struct Region {
  const char* name;
  const void* data;  // the view's first element; null (detached, empty) when count is 0
  int64_t byteOffset;
  int64_t offset, count;
  bool output;
  int64_t begin() const { return byteOffset + offset * 4; }  // float32 and int32 alike
  int64_t end() const { return begin() + count * 4; }
  const char* first() const { return static_cast<const char*>(data) + offset * 4; }
};
template <typename A>
Region region(const char* name, const A& a, int64_t count, bool output, int64_t offset = 0) {
  return {name, a.data, a.byteOffset, offset, count, output};
}

// Refuses an output that shares memory with another array argument. The kernels read inputs
// while writing outputs in orders that differ between the SIMD paths, the thread split and the
// js backend, so an overlap gives results that depend on all three; it is never what a caller
// means. `sameOk` lists the (output, other) pairs documented as usable in place (the Backend
// contract, lib/backend/types.ts): there the two may be exactly the same elements, since each
// output element depends only on inputs at its own index or is written after the inputs it
// needs were read. Compared by address, so two views into one buffer (or two SharedArrayBuffer
// objects over the same memory) are seen. The pairs, their order and the message are those of
// checkDisjoint in lib/backend/validate.ts.
inline void checkDisjoint(const Args& args, std::initializer_list<Region> list,
                          std::initializer_list<std::pair<const char*, const char*>> sameOk = {}) {
  const std::vector<Region> r(list);
  for (size_t i = 0; i < r.size(); i++) {
    for (size_t j = i + 1; j < r.size(); j++) {
      if (!r[i].output && !r[j].output) continue;  // inputs may share memory freely
      if (r[i].count == 0 || r[j].count == 0) continue;
      const char* ai = r[i].first();
      const char* aj = r[j].first();
      const bool overlap = ai < aj + r[j].count * 4 && aj < ai + r[i].count * 4;
      if (!overlap) continue;
      // Named output first: the later one when both are outputs (sgemm: "c must not overlap a").
      const Region& o = r[j].output ? r[j] : r[i];
      const Region& other = r[j].output ? r[i] : r[j];
      bool allowed = false;
      for (const auto& p : sameOk) {
        if (std::strcmp(p.first, o.name) == 0 && std::strcmp(p.second, other.name) == 0) allowed = true;
      }
      if (allowed && ai == aj && r[i].count == r[j].count) continue;
      throwRange(msg::overlap(args.fn(), o.name, other.name, allowed ? msg::overlapNoteInPlace() : std::string(),
                              allowed ? msg::overlapAllowedInPlace() : msg::overlapAllowed(), std::to_string(o.begin()),
                              std::to_string(o.end()), std::to_string(other.begin()), std::to_string(other.end())));
    }
  }
}

// A copy of the first n entries of an index array (labels, argmax), taken once the array's
// length is checked, so that the value checked is the value used: the kernels address memory (or
// count routed entries) by these values, and another thread may write the array while we run (an
// out-of-range label would then index past the logits). A Worker writes a SharedArrayBuffer;
// plain memory too is written by Node's own thread pool (crypto.randomFill, fs.read,
// filehandle.read fill a caller's typed array) and by other addons' threads. Shared memory is
// always copied. Plain memory is copied when `always`: class labels, checked and then followed as
// addresses (rows values, next to the kernel's rows · cols exponentials). Otherwise it is read in
// place (null is returned), so a training step does not pay for a copy of its argmax (1.6 MB per
// step for a CNN over 784 positions): the argmax kernels only compare entries (1-D and 2-D pooling,
// the fused conv + pool), which another writer can make give a wrong gradient but never a wrong
// address. (An error message may read an entry again: it names a value, addresses nothing.)
inline std::unique_ptr<int32_t[]> snapshot(const Args::I32& a, int64_t n, bool always = false) {
  if (!a.shared && !always) return nullptr;
  std::unique_ptr<int32_t[]> copy(new int32_t[n > 0 ? n : 1]);
  if (n > 0) std::memcpy(copy.get(), a.data, static_cast<size_t>(n) * sizeof(int32_t));
  return copy;
}

// After a max-pooling kernel routed fewer gradients than there are argmax entries (some entry
// lies outside its own window, which forward never records): names the first such entry.
[[noreturn]] inline void throwOutsideWindow(const char* fn, const Pool1dShape& s, const int32_t* argmax,
                                            int64_t routed) {
  const int64_t k = s.kSize, stride = s.stride, chan = s.chan, outLength = s.outLength();
  const int64_t perSampleOut = outLength * chan, nOut = s.batch * perSampleOut;
  auto str = [](int64_t v) { return std::to_string(v); };
  for (int64_t i = 0; i < nOut; i++) {
    const int64_t b = i / perSampleOut, t = (i % perSampleOut) / chan, c = i % chan;
    const int64_t start = (b * s.length + t * stride) * chan + c;
    const int64_t rel = static_cast<int64_t>(argmax[i]) - start;
    if (rel < 0 || rel >= k * chan || rel % chan != 0) {
      throwRange(msg::outsideWindow(fn, str(i), str(argmax[i]), str(t), str(outLength), str(c), str(b), str(start),
                                    str(start + (k - 1) * chan), str(chan)));
    }
  }
  throwRange(msg::routedShort(fn, str(routed), str(nOut)));
}

// After maxPool2dBackward routed fewer gradients than there are argmax entries: names the first
// entry outside its window.
[[noreturn]] inline void throwOutsideWindow(const char* fn, const Pool2dShape& s, const int32_t* argmax,
                                            int64_t routed) {
  const int64_t ow = s.outWidth(), oh = s.outHeight(), nOut = s.batch * oh * ow * s.chan;
  auto str = [](int64_t v) { return std::to_string(v); };
  for (int64_t i = 0; i < nOut; i++) {
    const int32_t got = argmax[i];
    if (maxPool2dInWindow(s, i, got)) continue;
    const int64_t c = i % s.chan, col = (i / s.chan) % ow, row = (i / s.chan / ow) % oh, b = i / s.chan / ow / oh;
    throwRange(msg::outsideWindow2d(fn, str(i), str(got), str(row), str(col), str(c), str(b), str(row * s.strideHeight),
                                    str(row * s.strideHeight + s.kHeight - 1), str(col * s.strideWidth),
                                    str(col * s.strideWidth + s.kWidth - 1), str(s.height), str(s.width), str(s.chan)));
  }
  throwRange(msg::routedShort(fn, str(routed), str(nOut)));
}

}  // namespace neurone
