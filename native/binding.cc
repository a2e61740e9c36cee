// The Node-API boundary: the only file that includes napi.h.
//
// Every entry point checks argument count and types, that each array is long
// enough for its shape, strides and offsets, and that no size computation
// overflows, and that no output shares memory with another array argument (checkDisjoint),
// before any kernel touches memory. Index arrays (labels, argmax) are copied once checked for
// length, and only the copy is checked and used (snapshot). (One check comes after:
// maxPool1dBackward learns that an argmax entry lies outside its window from
// the kernel's count of routed entries; dx, its output, is then cleared.) Messages name the argument and
// give the expected and received value, and match the js backend's
// (lib/backend/validate.ts) so both backends fail the same way.
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "conv1d.h"
#include "cpu.h"
#include "elementwise.h"
#include "gemm.h"
#include "pool1d.h"
#include "threadpool.h"

namespace neurone {
namespace {

constexpr int64_t kMaxDim = 2147483647;  // 2^31 - 1, as in the js backend

struct ArgError {
  bool isType;
  std::string message;
};

[[noreturn]] void throwType(const std::string& msg) { throw ArgError{true, msg}; }
[[noreturn]] void throwRange(const std::string& msg) { throw ArgError{false, msg}; }

std::string describe(const Napi::Value& v) {
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
    static const char* names[] = {"Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array",
                                  "Int32Array", "Uint32Array", "Float32Array", "Float64Array", "BigInt64Array",
                                  "BigUint64Array"};
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

// Reads arguments of one call, naming each in errors as "<fn>: <name> ...".
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* fn, size_t count) : info_(info), fn_(fn) {
    if (info.Length() != count) {
      throwType(std::string(fn) + ": expected " + std::to_string(count) + " arguments, got " +
                std::to_string(info.Length()));
    }
  }

  bool boolean(size_t i, const char* name) const {
    if (!info_[i].IsBoolean()) throwType(prefix(name) + " must be a boolean, got " + describe(info_[i]));
    return info_[i].As<Napi::Boolean>().Value();
  }

  // A scalar for the float32 kernels: infinities and NaN pass, a finite value that a float32
  // cannot hold (it would silently become infinite) is refused.
  float number(size_t i, const char* name) const {
    if (!info_[i].IsNumber()) throwType(prefix(name) + " must be a number, got " + describe(info_[i]));
    const double d = info_[i].As<Napi::Number>().DoubleValue();
    const float f = static_cast<float>(d);
    if (std::isfinite(d) && !std::isfinite(f)) {
      throwRange(prefix(name) + " must be within the float32 range (magnitude at most 3.4028235e+38), got " +
                 describe(info_[i]).substr(7));
    }
    return f;
  }

  // A size: an integer in [min, 2^31-1]. NaN, Infinity and fractions are rejected.
  int64_t size(size_t i, const char* name, int64_t min = 0) const {
    if (!info_[i].IsNumber()) throwType(prefix(name) + " must be a number, got " + describe(info_[i]));
    double d = info_[i].As<Napi::Number>().DoubleValue();
    if (!(d >= static_cast<double>(min)) || !(d <= static_cast<double>(kMaxDim)) || d != std::floor(d)) {
      throwRange(prefix(name) + " must be an integer in [" + std::to_string(min) + ", 2^31-1], got " +
                 describe(info_[i]).substr(7));
    }
    return static_cast<int64_t>(d);
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
      throwType(prefix(name) + " must be a Float32Array, got " + describe(v));
    }
    auto a = v.As<Napi::Float32Array>();
    // A detached buffer reports length 0 (and may report a null pointer): the
    // length checks below then reject it unless nothing is to be read.
    return {a.ElementLength() == 0 ? nullptr : a.Data(), static_cast<int64_t>(a.ElementLength()),
            static_cast<int64_t>(a.ByteOffset())};
  }

  struct I32 {
    int32_t* data;
    int64_t length;
    int64_t byteOffset = 0;
  };
  I32 int32(size_t i, const char* name) const {
    auto v = info_[i];
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
      throwType(prefix(name) + " must be an Int32Array, got " + describe(v));
    }
    auto a = v.As<Napi::Int32Array>();
    return {a.ElementLength() == 0 ? nullptr : a.Data(), static_cast<int64_t>(a.ElementLength()),
            static_cast<int64_t>(a.ByteOffset())};
  }

  bool isNull(size_t i) const { return info_[i].IsNull(); }

  void needLength(const char* name, int64_t have, int64_t needed) const {
    if (have < needed) {
      throwRange(prefix(name) + " is too short: expected at least " + std::to_string(needed) + " elements, got " +
                 std::to_string(have));
    }
  }

  std::string prefix(const char* name) const { return std::string(fn_) + ": " + name; }
  const char* fn() const { return fn_; }

 private:
  const Napi::CallbackInfo& info_;
  const char* fn_;
};

// Whether a * b leaves int64, without a compiler builtin (the Windows prebuild uses MSVC): each
// case compares against the bound divided by the other factor, which C++ truncates toward
// zero, exactly where an integer product first crosses the bound.
bool productOverflows(int64_t a, int64_t b) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max(), kMin = std::numeric_limits<int64_t>::min();
  if (a == 0 || b == 0) return false;
  if (a > 0) return b > 0 ? a > kMax / b : b < kMin / a;
  return b > 0 ? a < kMin / b : a < kMax / b;
}

// a * b for sizes already capped at 2^31-1; throws instead of overflowing int64.
int64_t mul(const Args& args, int64_t a, int64_t b, const char* what) {
  if (productOverflows(a, b)) throwRange(std::string(args.fn()) + ": " + what + " overflows");
  return a * b;
}
int64_t mul3(const Args& args, int64_t a, int64_t b, int64_t c, const char* what) {
  return mul(args, mul(args, a, b, what), c, what);
}

// Elements a (rows, cols) matrix with row stride ld spans from its first element.
int64_t matrixSpan(int64_t rows, int64_t cols, int64_t ld) {
  return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols;  // < 2^62 with capped inputs
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
void checkDisjoint(const Args& args, std::initializer_list<Region> list,
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
      auto range = [](const Region& x) {
        return "[" + std::to_string(x.begin()) + ", " + std::to_string(x.end()) + ")";
      };
      throwRange(args.prefix(o.name) + " must not overlap " + other.name + " (they share memory" +
                 (allowed ? std::string("; only exactly the same elements are allowed") : std::string()) +
                 "): expected " + (allowed ? "identical or disjoint" : "disjoint") + " byte ranges, got " + o.name +
                 " at bytes " + range(o) + " and " + other.name + " at bytes " + range(other) + " of the same memory");
    }
  }
}

// A copy of the first n entries of an index array (labels, argmax), taken once the array's
// length is checked. The kernels address memory (or count routed entries) by these values, and
// the array may sit in a SharedArrayBuffer that another thread writes while we run: checking
// the array and then reading it again would let a value change between the check and its use
// (an out-of-range label then indexes past the logits). Everything after this reads the copy
// only, so the value checked is the value used.
std::unique_ptr<int32_t[]> snapshot(const int32_t* data, int64_t n) {
  std::unique_ptr<int32_t[]> copy(new int32_t[n > 0 ? n : 1]);
  if (n > 0) std::memcpy(copy.get(), data, static_cast<size_t>(n) * sizeof(int32_t));
  return copy;
}

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) : pool_(ThreadPool::hardwareThreads()) {
    path_ = bestKernelPath();
    if (const char* forced = std::getenv("NEURONE_KERNEL")) {
      if (*forced != '\0') {
        KernelPath p;
        if (!parseKernelPath(forced, &p)) {
          throw Napi::Error::New(env, std::string("NEURONE_KERNEL must be scalar, avx2 or avx512, got '") + forced + "'");
        }
        if (!kernelPathSupported(p)) {
          throw Napi::Error::New(env, std::string("NEURONE_KERNEL=") + forced +
                                          " is not supported by this CPU or build (supported: " + supportedList() + ")");
        }
        path_ = p;
      }
    }
    DefineAddon(exports, {
        InstanceMethod("sgemm", &Addon::Sgemm),
        InstanceMethod("conv1dForward", &Addon::Conv1dForward),
        InstanceMethod("conv1dMaxPoolForward", &Addon::Conv1dMaxPoolForward),
        InstanceMethod("conv1dMaxPoolBackwardWeight", &Addon::Conv1dMaxPoolBackwardWeight),
        InstanceMethod("conv1dBackwardInput", &Addon::Conv1dBackwardInput),
        InstanceMethod("conv1dBackwardWeight", &Addon::Conv1dBackwardWeight),
        InstanceMethod("maxPool1dForward", &Addon::MaxPool1dForward),
        InstanceMethod("maxPool1dBackward", &Addon::MaxPool1dBackward),
        InstanceMethod("avgPool1dForward", &Addon::AvgPool1dForward),
        InstanceMethod("avgPool1dBackward", &Addon::AvgPool1dBackward),
        InstanceMethod("getThreads", &Addon::GetThreads),
        InstanceMethod("setThreads", &Addon::SetThreads),
        InstanceMethod("kernelPath", &Addon::GetKernelPath),
        InstanceMethod("supportedKernelPaths", &Addon::SupportedKernelPaths),
        InstanceMethod("setKernelPath", &Addon::SetKernelPath),
        InstanceMethod("activationForward", &Addon::ActivationForward),
        InstanceMethod("activationBackward", &Addon::ActivationBackward),
        InstanceMethod("addRowVector", &Addon::AddRowVector),
        InstanceMethod("sumRows", &Addon::SumRows),
        InstanceMethod("softmaxForward", &Addon::SoftmaxForward),
        InstanceMethod("softmaxBackward", &Addon::SoftmaxBackward),
        InstanceMethod("crossEntropyLogits", &Addon::CrossEntropyLogits),
        InstanceMethod("sgdStep", &Addon::SgdStep),
        InstanceMethod("adamStep", &Addon::AdamStep),
        InstanceMethod("nonFiniteIndex", &Addon::NonFiniteIndex),
        InstanceMethod("binaryCrossEntropy", &Addon::BinaryCrossEntropy),
        InstanceMethod("noop", &Addon::Noop),
        InstanceMethod("fmaProbe", &Addon::FmaProbe),
    });
  }

 private:
  static std::string supportedList() {
    std::string s = "scalar";
    if (kernelPathSupported(KernelPath::Avx2)) s += ", avx2";
    if (kernelPathSupported(KernelPath::Avx512)) s += ", avx512";
    return s;
  }

  // Runs `body`, turning argument errors into JavaScript TypeError / RangeError.
  template <typename F>
  Napi::Value guarded(const Napi::CallbackInfo& info, F body) {
    try {
      return body();
    } catch (const ArgError& e) {
      if (e.isType) Napi::TypeError::New(info.Env(), e.message).ThrowAsJavaScriptException();
      else Napi::RangeError::New(info.Env(), e.message).ThrowAsJavaScriptException();
    } catch (const std::bad_alloc&) {
      Napi::RangeError::New(info.Env(), "neurone: out of memory").ThrowAsJavaScriptException();
    }
    return info.Env().Undefined();
  }

  // sgemm(transA, transB, m, n, k, alpha, a, offsetA, lda, b, offsetB, ldb, beta, c, offsetC, ldc)
  Napi::Value Sgemm(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Args args(info, "sgemm", 16);
      GemmArgs g;
      g.transA = args.boolean(0, "transA");
      g.transB = args.boolean(1, "transB");
      g.m = args.size(2, "m");
      g.n = args.size(3, "n");
      g.k = args.size(4, "k");
      g.alpha = args.number(5, "alpha");
      auto a = args.float32(6, "a");
      int64_t offA = args.size(7, "offsetA");
      g.lda = args.size(8, "lda");
      auto b = args.float32(9, "b");
      int64_t offB = args.size(10, "offsetB");
      g.ldb = args.size(11, "ldb");
      g.beta = args.number(12, "beta");
      auto c = args.float32(13, "c");
      int64_t offC = args.size(14, "offsetC");
      g.ldc = args.size(15, "ldc");
      int64_t aRows = g.transA ? g.k : g.m, aCols = g.transA ? g.m : g.k;
      int64_t bRows = g.transB ? g.n : g.k, bCols = g.transB ? g.k : g.n;
      auto atLeast = [&](const char* name, int64_t ld, int64_t cols) {
        int64_t min = cols < 1 ? 1 : cols;
        if (ld < min) throwRange(args.prefix(name) + " must be at least " + std::to_string(min) + ", got " + std::to_string(ld));
      };
      atLeast("lda", g.lda, aCols);
      atLeast("ldb", g.ldb, bCols);
      atLeast("ldc", g.ldc, g.n);
      const int64_t spanA = matrixSpan(aRows, aCols, g.lda), spanB = matrixSpan(bRows, bCols, g.ldb);
      const int64_t spanC = matrixSpan(g.m, g.n, g.ldc);
      args.needLength("a", a.length, offA + spanA);
      args.needLength("b", b.length, offB + spanB);
      args.needLength("c", c.length, offC + spanC);
      // Whole spans from the first to the last element, so a C interleaved with A in the rows of one
      // buffer is refused too (the packed GEMM reads A and B in blocks while writing C).
      checkDisjoint(args, {region("a", a, spanA, false, offA), region("b", b, spanB, false, offB),
                           region("c", c, spanC, true, offC)});
      if (g.m == 0 || g.n == 0) return info.Env().Undefined();
      g.a = a.data ? a.data + offA : nullptr;
      g.b = b.data ? b.data + offB : nullptr;
      g.c = c.data + offC;
      if (g.k > 0 && (!g.a || !g.b)) throwRange("sgemm: a and b must hold data when k > 0");
      sgemm(g, path_, &pool_);
      return info.Env().Undefined();
    });
  }

  Conv1dShape convShape(const Args& args, size_t first) {
    Conv1dShape s;
    s.batch = args.size(first, "batch");
    s.length = args.size(first + 1, "length");
    s.chanIn = args.size(first + 2, "chanIn", 1);
    s.chanOut = args.size(first + 3, "chanOut", 1);
    s.kSize = args.size(first + 4, "kSize", 1);
    s.stride = args.size(first + 5, "stride", 1);
    return s;
  }

  struct ConvSizes {
    int64_t input, weight, output;
  };
  ConvSizes convSizes(const Args& args, const Conv1dShape& s) {
    return {mul3(args, s.batch, s.length, s.chanIn, "batch * length * chanIn"),
            mul3(args, s.kSize, s.chanIn, s.chanOut, "kSize * chanIn * chanOut"),
            mul3(args, s.batch, s.outLength(), s.chanOut, "batch * outLength * chanOut")};
  }

  // The arguments the two convolution forwards share: x, w, bias | null, y, then the shape from
  // argument `shapeFirst`. x, w and bias are checked against the shape here; y by the caller,
  // since its length depends on what follows the convolution.
  struct ConvForwardArgs {
    Args::F32 x, w, bias, y;
    bool hasBias;
    Conv1dShape s;
    const float* biasData() const { return hasBias ? bias.data : nullptr; }
  };
  ConvForwardArgs convForwardArgs(const Args& args, size_t shapeFirst) {
    ConvForwardArgs c{args.float32(0, "x"), args.float32(1, "w"), {nullptr, 0}, {nullptr, 0}, !args.isNull(2), {}};
    if (c.hasBias) c.bias = args.float32(2, "bias");
    c.y = args.float32(3, "y");
    c.s = convShape(args, shapeFirst);
    ConvSizes n = convSizes(args, c.s);
    args.needLength("x", c.x.length, n.input);
    args.needLength("w", c.w.length, n.weight);
    if (c.hasBias) args.needLength("bias", c.bias.length, c.s.chanOut);
    return c;
  }

  // conv1dForward(x, w, bias | null, y, batch, length, chanIn, chanOut, kSize, stride)
  Napi::Value Conv1dForward(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Args args(info, "conv1dForward", 10);
      ConvForwardArgs c = convForwardArgs(args, 4);
      const ConvSizes n = convSizes(args, c.s);
      args.needLength("y", c.y.length, n.output);
      checkDisjoint(args, {region("x", c.x, n.input, false), region("w", c.w, n.weight, false),
                           region("bias", c.bias, c.hasBias ? c.s.chanOut : 0, false), region("y", c.y, n.output, true)});
      if (n.output == 0) return info.Env().Undefined();
      conv1dForward(c.s, c.x.data, c.w.data, c.biasData(), c.y.data, path_, &pool_);
      return info.Env().Undefined();
    });
  }

  // The pooling of a conv1dMaxPool* call over the convolution's output, with the sizes that argmax
  // (int32 flat indices into that output) and the pooled output need; pooling arguments from `first`.
  Pool1dShape convPoolShape(const Args& args, const Conv1dShape& s, size_t first, int64_t* pooledSize) {
    const Pool1dShape p{s.batch, s.outLength(), s.chanOut, args.size(first, "poolSize", 1),
                        args.size(first + 1, "poolStride", 1)};
    const int64_t convSize = mul3(args, s.batch, p.length, s.chanOut, "batch * outLength * chanOut");
    if (convSize > kMaxDim) {
      throwRange(args.prefix("batch * outLength * chanOut") + " must be at most 2^31-1, got " + std::to_string(convSize));
    }
    *pooledSize = mul3(args, s.batch, p.outLength(), s.chanOut, "batch * pooledLength * chanOut");
    return p;
  }

  // conv1dMaxPoolForward(x, w, bias | null, y, argmax | null, batch, length, chanIn, chanOut, kSize, stride,
  //                      poolSize, poolStride)
  Napi::Value Conv1dMaxPoolForward(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Args args(info, "conv1dMaxPoolForward", 13);
      ConvForwardArgs c = convForwardArgs(args, 5);
      const bool wantArgmax = !args.isNull(4);
      Args::I32 argmax{nullptr, 0};
      if (wantArgmax) argmax = args.int32(4, "argmax");
      int64_t output;
      const Pool1dShape pooled = convPoolShape(args, c.s, 11, &output);
      args.needLength("y", c.y.length, output);
      if (wantArgmax) args.needLength("argmax", argmax.length, output);
      const ConvSizes n = convSizes(args, c.s);
      checkDisjoint(args, {region("x", c.x, n.input, false), region("w", c.w, n.weight, false),
                           region("bias", c.bias, c.hasBias ? c.s.chanOut : 0, false), region("y", c.y, output, true),
                           region("argmax", argmax, wantArgmax ? output : 0, true)});
      if (output == 0) return info.Env().Undefined();
      conv1dMaxPoolForward(c.s, pooled.kSize, pooled.stride, c.x.data, c.w.data, c.biasData(), c.y.data,
                           wantArgmax ? argmax.data : nullptr, path_, &pool_);
      return info.Env().Undefined();
    });
  }

  // conv1dMaxPoolBackwardWeight(x, dy, argmax, dw, batch, length, chanIn, chanOut, kSize, stride, poolSize,
  //                             poolStride)
  Napi::Value Conv1dMaxPoolBackwardWeight(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Args args(info, "conv1dMaxPoolBackwardWeight", 12);
      auto x = args.float32(0, "x");
      auto dy = args.float32(1, "dy");
      auto argmax = args.int32(2, "argmax");
      auto dw = args.float32(3, "dw");
      Conv1dShape s = convShape(args, 4);
      ConvSizes n = convSizes(args, s);
      int64_t output;
      const Pool1dShape pooled = convPoolShape(args, s, 10, &output);
      args.needLength("x", x.length, n.input);
      args.needLength("dy", dy.length, output);
      args.needLength("argmax", argmax.length, output);
      args.needLength("dw", dw.length, n.weight);
      checkDisjoint(args, {region("x", x, n.input, false), region("dy", dy, output, false),
                           region("argmax", argmax, output, false), region("dw", dw, n.weight, true)});
      if (output == 0) return info.Env().Undefined();
      // As in maxPool1dBackward, argmax entries are compared, never followed; an entry outside its
      // window leaves a count short, and dw is then left as it was. Each entry is compared once per
      // position its window covers, so the kernel and the message read a copy (see snapshot).
      const auto arg = snapshot(argmax.data, output);
      const int64_t routed =
          conv1dMaxPoolBackwardWeight(s, pooled.kSize, pooled.stride, x.data, dy.data, arg.get(), dw.data, path_, &pool_);
      if (routed != output) throwOutsideWindow("conv1dMaxPoolBackwardWeight", pooled, arg.get(), routed);
      return info.Env().Undefined();
    });
  }

  // conv1dBackwardInput(dy, w, dx, batch, length, chanIn, chanOut, kSize, stride)
  Napi::Value Conv1dBackwardInput(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Args args(info, "conv1dBackwardInput", 9);
      auto dy = args.float32(0, "dy");
      auto w = args.float32(1, "w");
      auto dx = args.float32(2, "dx");
      Conv1dShape s = convShape(args, 3);
      ConvSizes n = convSizes(args, s);
      args.needLength("dy", dy.length, n.output);
      args.needLength("w", w.length, n.weight);
      args.needLength("dx", dx.length, n.input);
      checkDisjoint(args, {region("dy", dy, n.output, false), region("w", w, n.weight, false),
                           region("dx", dx, n.input, true)});
      if (n.input == 0) return info.Env().Undefined();
      conv1dBackwardInput(s, dy.data, w.data, dx.data, path_, &pool_);
      return info.Env().Undefined();
    });
  }

  // conv1dBackwardWeight(x, dy, dw, batch, length, chanIn, chanOut, kSize, stride)
  Napi::Value Conv1dBackwardWeight(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Args args(info, "conv1dBackwardWeight", 9);
      auto x = args.float32(0, "x");
      auto dy = args.float32(1, "dy");
      auto dw = args.float32(2, "dw");
      Conv1dShape s = convShape(args, 3);
      ConvSizes n = convSizes(args, s);
      args.needLength("x", x.length, n.input);
      args.needLength("dy", dy.length, n.output);
      args.needLength("dw", dw.length, n.weight);
      checkDisjoint(args, {region("x", x, n.input, false), region("dy", dy, n.output, false),
                           region("dw", dw, n.weight, true)});
      if (n.output == 0) return info.Env().Undefined();
      conv1dBackwardWeight(s, x.data, dy.data, dw.data, path_, &pool_);
      return info.Env().Undefined();
    });
  }

  Pool1dShape poolShape(const Args& args, size_t first, int64_t* inputSize, int64_t* outputSize) {
    Pool1dShape s;
    s.batch = args.size(first, "batch");
    s.length = args.size(first + 1, "length");
    s.chan = args.size(first + 2, "chan", 1);
    s.kSize = args.size(first + 3, "kSize", 1);
    s.stride = args.size(first + 4, "stride", 1);
    *inputSize = mul3(args, s.batch, s.length, s.chan, "batch * length * chan");
    *outputSize = mul3(args, s.batch, s.outLength(), s.chan, "batch * outLength * chan");
    return s;
  }

  // After a max-pooling kernel routed fewer gradients than there are argmax entries (some entry
  // lies outside its own window, which forward never records): names the first such entry.
  [[noreturn]] static void throwOutsideWindow(const char* fn, const Pool1dShape& s, const int32_t* argmax,
                                              int64_t routed) {
    const int64_t k = s.kSize, stride = s.stride, chan = s.chan, outLength = s.outLength();
    const int64_t perSampleOut = outLength * chan, nOut = s.batch * perSampleOut;
    for (int64_t i = 0; i < nOut; i++) {
      const int64_t b = i / perSampleOut, t = (i % perSampleOut) / chan, c = i % chan;
      const int64_t start = (b * s.length + t * stride) * chan + c;
      const int64_t rel = static_cast<int64_t>(argmax[i]) - start;
      if (rel < 0 || rel >= k * chan || rel % chan != 0) {
        throwRange(std::string(fn) + ": argmax[" + std::to_string(i) + "] = " + std::to_string(argmax[i]) +
                   " is outside its window: output " + std::to_string(t) + " of " + std::to_string(outLength) +
                   ", channel " + std::to_string(c) + " of sample " + std::to_string(b) + " takes one of " +
                   std::to_string(start) + ".." + std::to_string(start + (k - 1) * chan) + " in steps of " +
                   std::to_string(chan));
      }
    }
    throwRange(std::string(fn) + ": argmax routed " + std::to_string(routed) + " of " + std::to_string(nOut) +
               " gradients");
  }

  // maxPool1dForward(x, y, argmax, batch, length, chan, kSize, stride)
  Napi::Value MaxPool1dForward(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Args args(info, "maxPool1dForward", 8);
      auto x = args.float32(0, "x");
      auto y = args.float32(1, "y");
      auto argmax = args.int32(2, "argmax");
      int64_t nIn, nOut;
      Pool1dShape s = poolShape(args, 3, &nIn, &nOut);
      // argmax holds flat indices into x as int32.
      if (nIn > kMaxDim) throwRange("maxPool1dForward: batch * length * chan must be at most 2^31-1, got " + std::to_string(nIn));
      args.needLength("x", x.length, nIn);
      args.needLength("y", y.length, nOut);
      args.needLength("argmax", argmax.length, nOut);
      checkDisjoint(args, {region("x", x, nIn, false), region("y", y, nOut, true), region("argmax", argmax, nOut, true)});
      if (nOut == 0) return info.Env().Undefined();
      maxPool1dForward(s, x.data, y.data, argmax.data, path_, &pool_);
      return info.Env().Undefined();
    });
  }

  // maxPool1dBackward(dy, argmax, dx, batch, length, chan, kSize, stride)
  Napi::Value MaxPool1dBackward(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Args args(info, "maxPool1dBackward", 8);
      auto dy = args.float32(0, "dy");
      auto argmax = args.int32(1, "argmax");
      auto dx = args.float32(2, "dx");
      int64_t nIn, nOut;
      Pool1dShape s = poolShape(args, 3, &nIn, &nOut);
      args.needLength("dy", dy.length, nOut);
      args.needLength("argmax", argmax.length, nOut);
      args.needLength("dx", dx.length, nIn);
      checkDisjoint(args, {region("dy", dy, nOut, false), region("argmax", argmax, nOut, false), region("dx", dx, nIn, true)});
      if (nIn == 0) return info.Env().Undefined();
      // Indices are int32: a larger input could not be addressed by argmax at all.
      if (nIn > kMaxDim) throwRange("maxPool1dBackward: batch * length * chan must be at most 2^31-1, got " + std::to_string(nIn));
      // argmax comes from JavaScript, but the kernel never writes where it points: each position of
      // dx gathers from the windows covering it, comparing their argmax with its own index. An entry
      // anywhere outside its window (another sample or beyond the array included) is then simply
      // never matched, and the count below tells, with no separate pass over argmax. Each entry is
      // compared once per position its window covers: were argmax read in place, another thread
      // changing it meanwhile could match one entry twice and another never, leaving the count
      // right and the gradient wrong. The kernel and the message read one copy (see snapshot).
      const auto arg = snapshot(argmax.data, nOut);
      const int64_t routed = maxPool1dBackward(s, dy.data, arg.get(), dx.data, path_, &pool_);
      if (routed != nOut) {
        std::memset(dx.data, 0, static_cast<size_t>(nIn) * sizeof(float));
        throwOutsideWindow("maxPool1dBackward", s, arg.get(), routed);
      }
      return info.Env().Undefined();
    });
  }

  // avgPool1dForward(x, y, batch, length, chan, kSize, stride)
  Napi::Value AvgPool1dForward(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Args args(info, "avgPool1dForward", 7);
      auto x = args.float32(0, "x");
      auto y = args.float32(1, "y");
      int64_t nIn, nOut;
      Pool1dShape s = poolShape(args, 2, &nIn, &nOut);
      args.needLength("x", x.length, nIn);
      args.needLength("y", y.length, nOut);
      checkDisjoint(args, {region("x", x, nIn, false), region("y", y, nOut, true)});
      if (nOut == 0) return info.Env().Undefined();
      avgPool1dForward(s, x.data, y.data, &pool_);
      return info.Env().Undefined();
    });
  }

  // avgPool1dBackward(dy, dx, batch, length, chan, kSize, stride)
  Napi::Value AvgPool1dBackward(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Args args(info, "avgPool1dBackward", 7);
      auto dy = args.float32(0, "dy");
      auto dx = args.float32(1, "dx");
      int64_t nIn, nOut;
      Pool1dShape s = poolShape(args, 2, &nIn, &nOut);
      args.needLength("dy", dy.length, nOut);
      args.needLength("dx", dx.length, nIn);
      checkDisjoint(args, {region("dy", dy, nOut, false), region("dx", dx, nIn, true)});
      if (nIn == 0) return info.Env().Undefined();
      avgPool1dBackward(s, dy.data, dx.data, &pool_);
      return info.Env().Undefined();
    });
  }

  Activation activation(const Args& args, size_t i) {
    int64_t code = args.size(i, "activation");
    if (code > static_cast<int64_t>(Activation::SoftPlus)) {
      throwRange(args.prefix("activation") + " must be an activation code in [0, 5], got " + std::to_string(code));
    }
    return static_cast<Activation>(code);
  }

  // activationForward(activation, alpha, x, y, n)
  Napi::Value ActivationForward(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Args args(info, "activationForward", 5);
      Activation f = activation(args, 0);
      float alpha = args.number(1, "alpha");
      auto x = args.float32(2, "x");
      auto y = args.float32(3, "y");
      int64_t n = args.size(4, "n");
      args.needLength("x", x.length, n);
      args.needLength("y", y.length, n);
      checkDisjoint(args, {region("x", x, n, false), region("y", y, n, true)}, {{"y", "x"}});
      if (n > 0) activationForwardParallel(f, alpha, x.data, y.data, n, path_, &pool_);
      return info.Env().Undefined();
    });
  }

  // activationBackward(activation, alpha, x, y, dy, dx, n)
  Napi::Value ActivationBackward(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Args args(info, "activationBackward", 7);
      Activation f = activation(args, 0);
      float alpha = args.number(1, "alpha");
      auto x = args.float32(2, "x");
      auto y = args.float32(3, "y");
      auto dy = args.float32(4, "dy");
      auto dx = args.float32(5, "dx");
      int64_t n = args.size(6, "n");
      args.needLength("x", x.length, n);
      args.needLength("y", y.length, n);
      args.needLength("dy", dy.length, n);
      args.needLength("dx", dx.length, n);
      checkDisjoint(args, {region("x", x, n, false), region("y", y, n, false), region("dy", dy, n, false), region("dx", dx, n, true)},
                    {{"dx", "x"}, {"dx", "y"}, {"dx", "dy"}});
      if (n > 0) activationBackwardParallel(f, alpha, x.data, y.data, dy.data, dx.data, n, &pool_);
      return info.Env().Undefined();
    });
  }

  // addRowVector(y, v, rows, cols)
  Napi::Value AddRowVector(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Args args(info, "addRowVector", 4);
      auto y = args.float32(0, "y");
      auto v = args.float32(1, "v");
      int64_t rows = args.size(2, "rows"), cols = args.size(3, "cols");
      args.needLength("y", y.length, mul(args, rows, cols, "rows * cols"));
      args.needLength("v", v.length, cols);
      checkDisjoint(args, {region("y", y, rows * cols, true), region("v", v, cols, false)});
      if (rows > 0 && cols > 0) addRowVector(y.data, v.data, rows, cols);
      return info.Env().Undefined();
    });
  }

  // sumRows(x, rows, cols, out)
  Napi::Value SumRows(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Args args(info, "sumRows", 4);
      auto x = args.float32(0, "x");
      int64_t rows = args.size(1, "rows"), cols = args.size(2, "cols");
      auto out = args.float32(3, "out");
      args.needLength("x", x.length, mul(args, rows, cols, "rows * cols"));
      args.needLength("out", out.length, cols);
      checkDisjoint(args, {region("x", x, rows * cols, false), region("out", out, cols, true)});
      if (rows > 0 && cols > 0) sumRows(x.data, rows, cols, out.data);
      return info.Env().Undefined();
    });
  }

  // softmaxForward(x, y, rows, cols, log)
  Napi::Value SoftmaxForward(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Args args(info, "softmaxForward", 5);
      auto x = args.float32(0, "x");
      auto y = args.float32(1, "y");
      int64_t rows = args.size(2, "rows"), cols = args.size(3, "cols", 1);
      bool log = args.boolean(4, "log");
      int64_t n = mul(args, rows, cols, "rows * cols");
      args.needLength("x", x.length, n);
      args.needLength("y", y.length, n);
      checkDisjoint(args, {region("x", x, n, false), region("y", y, n, true)}, {{"y", "x"}});
      if (n > 0) softmaxForward(x.data, y.data, rows, cols, log, path_);
      return info.Env().Undefined();
    });
  }

  // softmaxBackward(y, dy, dx, rows, cols, log)
  Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Args args(info, "softmaxBackward", 6);
      auto y = args.float32(0, "y");
      auto dy = args.float32(1, "dy");
      auto dx = args.float32(2, "dx");
      int64_t rows = args.size(3, "rows"), cols = args.size(4, "cols", 1);
      bool log = args.boolean(5, "log");
      int64_t n = mul(args, rows, cols, "rows * cols");
      args.needLength("y", y.length, n);
      args.needLength("dy", dy.length, n);
      args.needLength("dx", dx.length, n);
      checkDisjoint(args, {region("y", y, n, false), region("dy", dy, n, false), region("dx", dx, n, true)},
                    {{"dx", "y"}, {"dx", "dy"}});
      if (n > 0) softmaxBackward(y.data, dy.data, dx.data, rows, cols, log);
      return info.Env().Undefined();
    });
  }

  // crossEntropyLogits(logits, labels, loss, grad | null, rows, cols)
  Napi::Value CrossEntropyLogits(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Args args(info, "crossEntropyLogits", 6);
      auto logits = args.float32(0, "logits");
      auto labels = args.int32(1, "labels");
      auto loss = args.float32(2, "loss");
      Args::F32 grad{nullptr, 0};
      bool hasGrad = !args.isNull(3);
      if (hasGrad) grad = args.float32(3, "grad");
      int64_t rows = args.size(4, "rows"), cols = args.size(5, "cols", 1);
      int64_t n = mul(args, rows, cols, "rows * cols");
      args.needLength("logits", logits.length, n);
      args.needLength("labels", labels.length, rows);
      args.needLength("loss", loss.length, rows);
      if (hasGrad) args.needLength("grad", grad.length, n);
      // grad == logits would not even be in-place safe: the kernel writes the exponentials to grad
      // before it reads the label's logit for the loss.
      checkDisjoint(args, {region("logits", logits, n, false), region("labels", labels, rows, false),
                           region("loss", loss, rows, true), region("grad", grad, hasGrad ? n : 0, true)});
      // Checked and used from one copy: the label indexes the logits and grad rows (see snapshot).
      const auto label = snapshot(labels.data, rows);
      for (int64_t r = 0; r < rows; r++) {
        if (label[r] < 0 || label[r] >= cols) {
          throwRange("crossEntropyLogits: labels[" + std::to_string(r) + "] must be a class index in [0, " +
                     std::to_string(cols) + "), got " + std::to_string(label[r]));
        }
      }
      if (rows > 0) crossEntropyLogits(logits.data, label.get(), loss.data, hasGrad ? grad.data : nullptr, rows, cols, path_);
      return info.Env().Undefined();
    });
  }

  // sgdStep(w, g, velocity | null, n, lr, momentum, weightDecay)
  Napi::Value SgdStep(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Args args(info, "sgdStep", 7);
      auto w = args.float32(0, "w");
      auto g = args.float32(1, "g");
      Args::F32 v{nullptr, 0};
      bool hasVelocity = !args.isNull(2);
      if (hasVelocity) v = args.float32(2, "velocity");
      int64_t n = args.size(3, "n");
      float lr = args.number(4, "lr"), momentum = args.number(5, "momentum"), wd = args.number(6, "weightDecay");
      args.needLength("w", w.length, n);
      args.needLength("g", g.length, n);
      if (hasVelocity) args.needLength("velocity", v.length, n);
      checkDisjoint(args, {region("w", w, n, true), region("g", g, n, false), region("velocity", v, hasVelocity ? n : 0, true)});
      if (n > 0) sgdStepParallel(w.data, g.data, hasVelocity ? v.data : nullptr, n, lr, momentum, wd, path_, &pool_);
      return info.Env().Undefined();
    });
  }

  // adamStep(w, g, m, v, n, lr, beta1, beta2, eps, weightDecay, step)
  Napi::Value AdamStep(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Args args(info, "adamStep", 11);
      auto w = args.float32(0, "w");
      auto g = args.float32(1, "g");
      auto m = args.float32(2, "m");
      auto v = args.float32(3, "v");
      int64_t n = args.size(4, "n");
      float lr = args.number(5, "lr"), b1 = args.number(6, "beta1"), b2 = args.number(7, "beta2");
      float eps = args.number(8, "eps"), wd = args.number(9, "weightDecay");
      int64_t step = args.size(10, "step", 1);
      args.needLength("w", w.length, n);
      args.needLength("g", g.length, n);
      args.needLength("m", m.length, n);
      args.needLength("v", v.length, n);
      checkDisjoint(args, {region("w", w, n, true), region("g", g, n, false), region("m", m, n, true), region("v", v, n, true)});
      if (n > 0) adamStepParallel(w.data, g.data, m.data, v.data, n, lr, b1, b2, eps, wd, step, path_, &pool_);
      return info.Env().Undefined();
    });
  }

  // binaryCrossEntropy(p, y, loss, grad | null, rows, cols)
  Napi::Value BinaryCrossEntropy(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Args args(info, "binaryCrossEntropy", 6);
      auto p = args.float32(0, "p");
      auto y = args.float32(1, "y");
      auto loss = args.float32(2, "loss");
      Args::F32 grad{nullptr, 0};
      bool hasGrad = !args.isNull(3);
      if (hasGrad) grad = args.float32(3, "grad");
      int64_t rows = args.size(4, "rows"), cols = args.size(5, "cols");
      int64_t n = mul(args, rows, cols, "rows * cols");
      args.needLength("p", p.length, n);
      args.needLength("y", y.length, n);
      args.needLength("loss", loss.length, rows);
      if (hasGrad) args.needLength("grad", grad.length, n);
      checkDisjoint(args, {region("p", p, n, false), region("y", y, n, false), region("loss", loss, rows, true),
                           region("grad", grad, hasGrad ? n : 0, true)});
      if (rows > 0) binaryCrossEntropy(p.data, y.data, loss.data, hasGrad ? grad.data : nullptr, rows, cols, path_);
      return info.Env().Undefined();
    });
  }

  // nonFiniteIndex(x, n) -> index of the first NaN/±Infinity, or -1
  Napi::Value NonFiniteIndex(const Napi::CallbackInfo& info) {
    return guarded(info, [&]() -> Napi::Value {
      Args args(info, "nonFiniteIndex", 2);
      auto x = args.float32(0, "x");
      int64_t n = args.size(1, "n");
      args.needLength("x", x.length, n);
      return Napi::Number::New(info.Env(), static_cast<double>(n > 0 ? nonFiniteIndexParallel(x.data, n, path_, &pool_) : -1));
    });
  }

  Napi::Value GetThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), pool_.threads()); }

  Napi::Value SetThreads(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Args args(info, "setThreads", 1);
      int64_t n = args.size(0, "n", 1);
      if (n > 1024) throwRange("setThreads: n must be at most 1024, got " + std::to_string(n));
      if (n != pool_.threads()) pool_.resize(static_cast<int>(n));
      return info.Env().Undefined();
    });
  }

  Napi::Value GetKernelPath(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), kernelPathName(path_));
  }

  Napi::Value SupportedKernelPaths(const Napi::CallbackInfo& info) {
    auto list = Napi::Array::New(info.Env());
    uint32_t i = 0;
    for (KernelPath p : {KernelPath::Scalar, KernelPath::Avx2, KernelPath::Avx512}) {
      if (kernelPathSupported(p)) list.Set(i++, Napi::String::New(info.Env(), kernelPathName(p)));
    }
    return list;
  }

  Napi::Value SetKernelPath(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Args args(info, "setKernelPath", 1);
      if (!info[0].IsString()) throwType("setKernelPath: path must be a string, got " + describe(info[0]));
      std::string name = info[0].As<Napi::String>().Utf8Value();
      KernelPath p;
      if (!parseKernelPath(name.c_str(), &p)) {
        throwRange("setKernelPath: path must be 'scalar', 'avx2' or 'avx512', got '" + name + "'");
      }
      if (!kernelPathSupported(p)) {
        throwRange("setKernelPath: '" + name + "' is not supported here (supported: " + supportedList() + ")");
      }
      path_ = p;
      return info.Env().Undefined();
    });
  }

  // An empty call, to measure the cost of crossing the boundary.
  Napi::Value Noop(const Napi::CallbackInfo& info) { return info.Env().Undefined(); }

  // For the benchmarks: the FLOPs of `steps` rounds of the current path's FMA probe, run on
  // this thread (see fmaProbe in gemm.h); the caller times it.
  Napi::Value FmaProbe(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Args args(info, "fmaProbe", 1);
      const int64_t steps = args.size(0, "steps", 1);
      return Napi::Number::New(info.Env(), fmaProbe(path_, steps));
    });
  }

  ThreadPool pool_;
  KernelPath path_;
};

}  // namespace
}  // namespace neurone

using NeuroneAddon = neurone::Addon;
NODE_API_ADDON(NeuroneAddon)
