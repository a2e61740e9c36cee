// The Node-API boundary: the only translation unit that includes napi.h.
//
// Every entry point checks argument count and types, that each array is long enough for its
// shape, strides and offsets, that no size computation overflows, and that no output shares
// memory with another array argument (checkDisjoint), before any kernel touches memory. Index
// arrays (labels, argmax) in shared memory, and class labels always, are copied once checked for
// length, and only the copy is checked and used; an argmax in plain memory is read in place by
// kernels that never address through a value they did not check (snapshot). Those checks are generated from the op
// table (lib/backend/ops.ts) into ops_generated.h, whose structs this file constructs; the js backend runs checks
// generated from the same table, with the same messages, so both backends fail the same way. A kernel whose call is
// plain (the shape, its arrays, the path, the pool) is run by its struct's generated runKernel; what stays here is
// running the others, and one check that comes after: maxPool1dBackward (and conv1dMaxPoolBackwardWeight) learn that an
// argmax entry lies outside its window from the kernel's count of routed entries; maxPool1dBackward's output dx is then
// cleared.
#include <napi.h>

#include <cstring>
#include <string>
#include <vector>

#include "conv1d.h"
#include "conv2d.h"
#include "cpu.h"
#include "elementwise.h"
#include "gemm.h"
#include "napi_args.h"
#include "ops_generated.h"
#include "pool1d.h"
#include "pool2d.h"
#include "threadpool.h"

namespace neurone {
namespace {

#define NEURONE_METHOD(Call) InstanceMethod(Call::kName, &Addon::Run<Call>),

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) : pool_(ThreadPool::hardwareThreads()) {
    // NEURONE_KERNEL is applied by lib/backend/native.ts through setKernelPath, from the
    // process.env of the thread loading this instance: a Worker's own env, where getenv here
    // would read the process's and could disagree with what the JavaScript side was told.
    path_ = bestKernelPath();
    DefineAddon(exports, {
                             NEURONE_FOR_EACH_OP(NEURONE_METHOD) InstanceMethod("getThreads", &Addon::GetThreads),
                             InstanceMethod("setThreads", &Addon::SetThreads),
                             InstanceMethod("kernelPath", &Addon::GetKernelPath),
                             InstanceMethod("supportedKernelPaths", &Addon::SupportedKernelPaths),
                             InstanceMethod("setKernelPath", &Addon::SetKernelPath),
                             InstanceMethod("noop", &Addon::Noop),
                             InstanceMethod("fmaProbe", &Addon::FmaProbe),
                         });
  }

 private:
  // The names of the paths this CPU, OS and binary run, in KernelPath order.
  static std::vector<const char*> supportedPaths() {
    std::vector<const char*> names;
    for (int p = 0; p < kKernelPathCount; p++)
      if (kernelPathSupported(static_cast<KernelPath>(p))) names.push_back(kKernelPathNames[p]);
    return names;
  }

  static std::string supportedList() {
    std::string s;
    for (const char* name : supportedPaths()) s += (s.empty() ? "" : ", ") + std::string(name);
    return s;
  }

  // Runs `body`, turning argument errors into JavaScript TypeError / RangeError.
  template <typename F>
  Napi::Value guarded(const Napi::CallbackInfo& info, F body) {
    try {
      return body();
    } catch (const ArgError& e) {
      if (e.isType)
        Napi::TypeError::New(info.Env(), e.message).ThrowAsJavaScriptException();
      else
        Napi::RangeError::New(info.Env(), e.message).ThrowAsJavaScriptException();
    } catch (const std::bad_alloc&) {
      Napi::RangeError::New(info.Env(), "neurone: out of memory").ThrowAsJavaScriptException();
    }
    return info.Env().Undefined();
  }

  // One entry point: the generated struct checks the arguments, run() below calls the kernel.
  template <typename Call>
  Napi::Value Run(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Call call(info);
      return run(info.Env(), call);
    });
  }

  // The plain kernels: the call struct runs them (runKernel, generated from the op table).
  template <typename Call>
  auto run(Napi::Env env, Call& a) -> decltype(a.runKernel(KernelPath{}, nullptr), Napi::Value()) {
    a.runKernel(path_, &pool_);
    return env.Undefined();
  }

  Napi::Value run(Napi::Env env, SgemmCall& a) {
    if (a.m == 0 || a.n == 0) return env.Undefined();
    GemmArgs g;
    g.transA = a.transA, g.transB = a.transB, g.m = a.m, g.n = a.n, g.k = a.k, g.alpha = a.alpha, g.beta = a.beta;
    g.a = a.a.data ? a.a.data + a.offsetA : nullptr, g.lda = a.lda;
    g.b = a.b.data ? a.b.data + a.offsetB : nullptr, g.ldb = a.ldb;
    g.c = a.c.data + a.offsetC, g.ldc = a.ldc;
    if (g.k > 0 && (!g.a || !g.b)) throwRange(msg::noData(a.kName));
    sgemm(g, path_, &pool_);
    return env.Undefined();
  }

  Napi::Value run(Napi::Env env, Conv1dMaxPoolForwardCall& a) {
    if (a.pooled > 0) {
      conv1dMaxPoolForward(a.shape(), a.poolSize, a.poolStride, a.x.data, a.w.data, a.bias.data, a.y.data,
                           a.argmax.data, path_, &pool_);
    }
    return env.Undefined();
  }

  Napi::Value run(Napi::Env env, Conv1dMaxPoolBackwardWeightCall& a) {
    if (a.pooled == 0) return env.Undefined();
    // As in maxPool1dBackward, argmax entries (the copy) are compared, never followed; an entry
    // outside its window leaves the count short, and dw is then left as it was.
    const int64_t routed = conv1dMaxPoolBackwardWeight(a.shape(), a.poolSize, a.poolStride, a.x.data, a.dy.data,
                                                       a.argmax.data, a.dw.data, path_, &pool_);
    const Pool1dShape pooling{a.batch, a.outLength, a.chanOut, a.poolSize, a.poolStride};
    if (routed != a.pooled) throwOutsideWindow(a.kName, pooling, a.argmax.data, routed);
    return env.Undefined();
  }

  Napi::Value run(Napi::Env env, MaxPool1dBackwardCall& a) {
    if (a.input == 0) return env.Undefined();
    // argmax comes from JavaScript, but the kernel never writes where it points: each position of
    // dx gathers from the windows covering it, comparing their argmax with its own index. An entry
    // anywhere outside its window (another sample or beyond the array included) is then simply
    // never matched, and the count tells, with no separate pass over argmax. Each entry is
    // compared once per position its window covers: another thread changing it meanwhile could
    // match one entry twice and another never, leaving the count right and the gradient wrong. A
    // Worker's shared argmax is therefore the call's private copy; plain memory that Node's thread
    // pool writes meanwhile can only make that gradient wrong, never a write out of bounds.
    const int64_t routed = maxPool1dBackward(a.shape(), a.dy.data, a.argmax.data, a.dx.data, path_, &pool_);
    if (routed != a.output) {
      std::memset(a.dx.data, 0, static_cast<size_t>(a.input) * sizeof(float));
      throwOutsideWindow(a.kName, a.shape(), a.argmax.data, routed);
    }
    return env.Undefined();
  }

  Napi::Value run(Napi::Env env, MaxPool2dBackwardCall& a) {
    if (a.input == 0) return env.Undefined();
    // As in maxPool1dBackward: the kernel compares each argmax entry (the call's own copy when it
    // came from shared memory) with its window's pixels and never writes where one points; an
    // entry outside its window is never matched, and the count tells.
    const int64_t routed = maxPool2dBackward(a.shape(), a.dy.data, a.argmax.data, a.dx.data, path_, &pool_);
    if (routed != a.output) {
      std::memset(a.dx.data, 0, static_cast<size_t>(a.input) * sizeof(float));
      throwOutsideWindow(a.kName, a.shape(), a.argmax.data, routed);
    }
    return env.Undefined();
  }

  Napi::Value run(Napi::Env env, ActivationForwardCall& a) {
    if (a.n > 0) activationForwardParallel(a.activation, a.alpha, a.x.data, a.y.data, a.n, path_, &pool_);
    return env.Undefined();
  }

  Napi::Value run(Napi::Env env, ActivationBackwardCall& a) {
    if (a.n > 0)
      activationBackwardParallel(a.activation, a.alpha, a.x.data, a.y.data, a.dy.data, a.dx.data, a.n, path_, &pool_);
    return env.Undefined();
  }

  Napi::Value run(Napi::Env env, SoftmaxForwardCall& a) {
    if (a.matrix > 0) softmaxForward(a.x.data, a.y.data, a.rows, a.cols, a.log, path_);
    return env.Undefined();
  }

  Napi::Value run(Napi::Env env, SoftmaxBackwardCall& a) {
    if (a.matrix > 0) softmaxBackward(a.y.data, a.dy.data, a.dx.data, a.rows, a.cols, a.log);
    return env.Undefined();
  }

  Napi::Value run(Napi::Env env, CrossEntropyLogitsCall& a) {
    if (a.rows > 0) crossEntropyLogits(a.logits.data, a.labels.data, a.loss.data, a.grad.data, a.rows, a.cols, path_);
    return env.Undefined();
  }

  Napi::Value run(Napi::Env env, SgdStepCall& a) {
    if (a.n > 0) {
      sgdStepParallel(a.w.data, a.g.data, a.velocity.data, a.n, a.lr, a.momentum, a.weightDecay, a.dampening,
                      a.nesterov, path_, &pool_);
    }
    return env.Undefined();
  }

  Napi::Value run(Napi::Env env, AdamStepCall& a) {
    if (a.n > 0) {
      adamStepParallel(a.w.data, a.g.data, a.m.data, a.v.data, a.n, a.lr, a.beta1, a.beta2, a.eps, a.weightDecay,
                       a.step, path_, &pool_);
    }
    return env.Undefined();
  }

  Napi::Value run(Napi::Env env, BinaryCrossEntropyCall& a) {
    if (a.rows > 0) binaryCrossEntropy(a.p.data, a.y.data, a.loss.data, a.grad.data, a.rows, a.cols, path_);
    return env.Undefined();
  }

  // Σ x², in double.
  Napi::Value run(Napi::Env env, SumOfSquaresCall& a) {
    return Napi::Number::New(env, sumOfSquares(a.x.data, a.n, path_, &pool_));
  }

  // The index of the first NaN/±Infinity, or -1.
  Napi::Value run(Napi::Env env, NonFiniteIndexCall& a) {
    return Napi::Number::New(env,
                             static_cast<double>(a.n > 0 ? nonFiniteIndexParallel(a.x.data, a.n, path_, &pool_) : -1));
  }

  Napi::Value GetThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), pool_.threads()); }

  Napi::Value SetThreads(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Args args(info, "setThreads", 1);
      const int64_t n = args.size(0, "n", 1);
      if (n > kMaxThreads) throwRange(msg::tooManyThreads(args.fn(), std::to_string(kMaxThreads), std::to_string(n)));
      if (n != pool_.threads()) {
        try {
          pool_.resize(static_cast<int>(n));
        } catch (const ThreadStartError& e) {
          throwRange("setThreads: the system refused to start thread " + std::to_string(e.started + 1) + " of " +
                     std::to_string(e.wanted) + " (" + e.why + "); the kernels run on " + std::to_string(e.kept) +
                     (e.kept == 1 ? " thread" : " threads"));
        }
      }
      return info.Env().Undefined();
    });
  }

  Napi::Value GetKernelPath(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), kernelPathName(path_));
  }

  Napi::Value SupportedKernelPaths(const Napi::CallbackInfo& info) {
    auto list = Napi::Array::New(info.Env());
    uint32_t i = 0;
    for (const char* name : supportedPaths()) list.Set(i++, Napi::String::New(info.Env(), name));
    return list;
  }

  Napi::Value SetKernelPath(const Napi::CallbackInfo& info) {
    return guarded(info, [&] {
      Args args(info, "setKernelPath", 1);
      if (!info[0].IsString()) throwType(msg::notString(args.fn(), "path", describe(info[0])));
      std::string name = info[0].As<Napi::String>().Utf8Value();
      KernelPath p;
      if (!parseKernelPath(name.c_str(), &p)) throwRange(msg::badKernelPath(args.fn(), name));
      if (!kernelPathSupported(p)) throwRange(msg::unsupportedKernelPath(args.fn(), name, supportedList()));
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
