// 2-D convolution on channels-last images, forward and backward.
//
//   x (batch, height, width, chanIn)        w (kHeight, kWidth, chanIn, chanOut)      bias (chanOut)
//   y (batch, outHeight, outWidth, chanOut) outHeight = (height + 2·padHeight − kHeight) / strideHeight + 1
//
// Cross-correlation with zero padding, as PyTorch's conv2d. These functions trust their
// arguments: the binding validates them.
#pragma once

#include <cstdint>
#include <cstring>

#include "cpu.h"
#include "threadpool.h"

namespace neurone {

// n floats from src to dst. An image of zero width or height, which padding still gives
// outputs, arrives as an empty Float32Array whose data pointer is null, and memcpy's pointers must
// not be null even for no bytes (UBSan's nonnull check stopped the fuzzer on it).
inline void copyFloats(float* dst, const float* src, int64_t n) {
  if (n > 0) std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

struct Conv2dShape {
  int64_t batch = 0, height = 0, width = 0, chanIn = 0, chanOut = 0;
  int64_t kHeight = 1, kWidth = 1, strideHeight = 1, strideWidth = 1, padHeight = 0, padWidth = 0;
  int64_t outHeight() const {
    const int64_t padded = height + 2 * padHeight;
    return padded < kHeight ? 0 : (padded - kHeight) / strideHeight + 1;
  }
  int64_t outWidth() const {
    const int64_t padded = width + 2 * padWidth;
    return padded < kWidth ? 0 : (padded - kWidth) / strideWidth + 1;
  }
  // The depth of the GEMMs: one window's values, kHeight · kWidth · chanIn.
  int64_t windowSize() const { return kHeight * kWidth * chanIn; }
};

// y = conv(x, w) + bias (bias may be null). y is overwritten.
void conv2dForward(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y, KernelPath path,
                   ThreadPool* pool);
// dx = dL/dx, overwritten (pixels no window reaches get 0).
void conv2dBackwardInput(const Conv2dShape& s, const float* dy, const float* w, float* dx, KernelPath path,
                         ThreadPool* pool);
// dw += dL/dw, summed over the batch.
void conv2dBackwardWeight(const Conv2dShape& s, const float* x, const float* dy, float* dw, KernelPath path,
                          ThreadPool* pool);

// The direct convolution of one input channel at stride 1 (conv2d_direct.h), per SIMD path.
// Output pixels are numbered on the padded image's grid, q = oy · paddedWidth + ox, so that the
// window of q starts at padded pixel q: a vector of consecutive q reads each tap's inputs as one
// contiguous load. The grid's columns ox >= outWidth are computed and dropped (a GEMM of six
// output channels would fill 6 of 16 columns instead). conv2d.cc lays out the plan and the
// scratch, runs the samples on the threads and sums the weight gradient's lanes into dw.
struct OneChannelPlan {
  const Conv2dShape* s = nullptr;
  int64_t paddedHeight = 0, paddedWidth = 0;
  // Grid pixels up to the last output, (outHeight − 1) · paddedWidth + outWidth, rounded up to
  // whole blocks of the path's oneChannelVectors vectors.
  int64_t gridPixels = 0;
  // The padded image with a zeroed tail that the last blocks read: paddedHeight · paddedWidth
  // + oneChannelVectors · lanes floats.
  int64_t paddedFloats = 0;
  // chanOut rounded up to whole vectors: the row length of the weight gradient's sums (along the
  // grid, rows of chanOutPadded entries of lanes partial sums each).
  int64_t chanOutPadded = 0;
  // The weight gradient's form (conv2d_direct.h): along the grid rather than along the channels.
  bool weightGradientAlongGrid = false;
};
// The weight gradient runs along the grid for at most this many output channels.
constexpr int64_t kGridMaxChannels = 6;
// A forward block: the path's oneChannelVectors vectors of grid pixels × up to
// kOneChannelChannels output channels, its sums in registers.
constexpr int64_t kOneChannelChannels = 6;

// The input gradient of a convolution whose window rows are short (kWidth · chanIn floats, one
// to kRowVectorsMax vectors: LeNet's second layer has 30), per SIMD path. Output pixel p and
// kernel row ky send dx one contiguous run, the window row they read:
//
//   dx[p's window row ky, kx, c] += Σ_o dy[p, o] · w[ky, kx, c, o]
//
// so each run is a sum over o of dy[p, o] times row (ky, o) of the weights laid out
// (kHeight, chanOut, kWidth · chanIn), without the (pixels, window) matrix a GEMM writes and
// scatters back. The runs go to a padded copy of dx, whose border is dropped.
struct WindowRowPlan {
  const Conv2dShape* s = nullptr;
  int64_t paddedHeight = 0, paddedWidth = 0;
  int64_t runVectors = 0;  // vectors per run: kWidth · chanIn rounded up
  // Weights as (kHeight, chanOut, runVectors · lanes), zero past kWidth · chanIn.
  const float* rows = nullptr;
  // The padded dx: paddedHeight · paddedWidth · chanIn floats and a tail the last run's
  // rounded-up vectors reach.
  int64_t paddedFloats = 0;
  // The order in which a row's outputs add their runs, where blocks run along the rows
  // (outWidth entries): neighbours' runs overlap, and a run read back while the store of the
  // one before is in flight stalls, so outputs are taken every `apart`-th, apart the fewest
  // whose runs do not overlap.
  const int64_t* order = nullptr;
};
constexpr int64_t kRowVectorsMax = 4;

// The forward and weight gradient of a convolution with few input channels (the grid's GEMMs
// want 8), per SIMD path: GEMMs with the image as their implicit A, vectorised over the output
// channels. Output pixel p reads, for kernel row ky, one contiguous window row of the padded
// image (kWidth · chanIn floats, the depth order of w), so
//
//   forward      y[p, o]  = Σ_ky Σ_j  row(p, ky)[j] · w[ky, j, o]           (+ bias[o] after)
//   grad weight  dw[ky, j, o] += Σ_b Σ_p  row(p, ky)[j] · dy[p, o]
//
// each value of a row broadcast against a vector of w's or dy's channels: no im2col tile is
// gathered and no panel packed.
struct ChannelsPlan {
  const Conv2dShape* s = nullptr;
  int64_t paddedHeight = 0, paddedWidth = 0;
  int64_t chanOutPadded = 0;  // chanOut rounded up to whole vectors
  int64_t vectors = 0;        // vectors of output channels per block, at most channelVectors
  // Forward: w as (window, chanOutPadded) and the bias as (chanOutPadded), zero past chanOut
  // (bias null without one).
  const float* weights = nullptr;
  const float* bias = nullptr;
  // The weight gradient's padded image: paddedHeight · paddedWidth · chanIn floats.
  int64_t paddedFloats = 0;
  // The forward pads a band of output rows at a time (as FewOutputsPlan): this many rows, in
  // bandFloats floats of scratch.
  int64_t bandRows = 0, bandFloats = 0;
};
// A convolution with few output channels (at most kFewOutputsMax), per SIMD path: vectorised
// along the window rows instead, each lane a partial sum of its own. Output pixel p reads, for
// kernel row ky, the contiguous window row row(p, ky) of kWidth · chanIn floats, so
//
//   forward      y[p, o]  = Σ_ky Σ_j  row(p, ky)[j] · w[ky, j, o]           (+ bias[o] after)
//   grad weight  dw[ky, j, o] += Σ_b Σ_p  row(p, ky)[j] · dy[p, o]
//
// The forward's sums are added across their lanes once an output (laneSums); the weight
// gradient's lanes are its entries j. Lanes along the output channels, as ChannelsPlan has them,
// would leave 15 of 16 idle for a one-channel output (an autoencoder's last layer ran at 5 % of the
// FMA peak that way). The input gradient of a convolution with few input channels at stride 1 is
// this forward over the transposed shape (conv2d.cc). Images are padded a band of output rows at a
// time, so the scratch does not grow with the image's height: 256 KB a worker, or one output
// row's kernel-high rows where those are larger (conv2d.cc bounds them).
struct FewOutputsPlan {
  const Conv2dShape* s = nullptr;
  int64_t paddedWidth = 0;
  int64_t runVectors = 0;  // vectors per window row: kWidth · chanIn rounded up
  // Forward: w as (chanOut, kHeight, runVectors · lanes), zero past kWidth · chanIn; and
  // bias[i % chanOut] at i (null without a bias), one entry per sum of a register block.
  const float* rows = nullptr;
  const float* biasPattern = nullptr;
  int64_t bandRows = 0;    // output rows per band
  int64_t bandFloats = 0;  // a band's padded rows, with a tail the last row's rounded-up run reaches
};
constexpr int64_t kFewOutputsMax = 4;
// Entries of FewOutputsPlan::biasPattern: at least a register block's sums, whole vectors.
constexpr int64_t kFewOutputsPatternFloats = 64;

struct Conv2dKernels {
  int64_t lanes;              // floats per vector on the path
  int64_t channelVectors;     // at most this many vectors of output channels per ChannelsPlan block
  int64_t oneChannelVectors;  // vectors of grid pixels per OneChannelPlan forward block
  // Sample b: y_b = conv(x_b, w) + bias (bias may be null). Scratch: paddedFloats.
  void (*oneChannelForwardSample)(const OneChannelPlan& plan, const float* x, const float* w, const float* bias,
                                  float* y, int64_t b, float* scratch);
  // sums (taps, chanOutPadded) += sample b's weight gradient; the columns past chanOut hold
  // anything. Scratch: paddedFloats + outHeight · outWidth · chanOut + lanes. Along the grid,
  // sums is (taps, chanOutPadded, lanes), each entry's partial sums per lane, and the scratch
  // paddedFloats + chanOut · gridPixels.
  void (*oneChannelWeightGradientSample)(const OneChannelPlan& plan, const float* x, const float* dy, float* sums,
                                         int64_t b, float* scratch);
  // Sample b: dx_b = dL/dx_b, overwritten. Scratch: paddedFloats.
  void (*windowRowInputGradientSample)(const WindowRowPlan& plan, const float* dy, float* dx, int64_t b,
                                       float* scratch);
  // Sample b, output rows [oy0, oy1): y = conv(x, w) + bias. Scratch: bandFloats.
  void (*channelsForwardBand)(const ChannelsPlan& plan, const float* x, float* y, int64_t b, int64_t oy0, int64_t oy1,
                              float* scratch);
  // sums (window, chanOutPadded) += sample b's weight gradient; the columns past chanOut hold
  // anything. Scratch: paddedFloats + outHeight · outWidth · chanOut + lanes.
  void (*channelsWeightGradientSample)(const ChannelsPlan& plan, const float* x, const float* dy, float* sums,
                                       int64_t b, float* scratch);
  // Sample b, output rows [oy0, oy1): y = conv(x, w) + bias. Scratch: bandFloats.
  void (*fewOutputsForwardBand)(const FewOutputsPlan& plan, const float* x, float* y, int64_t b, int64_t oy0,
                                int64_t oy1, float* scratch);
  // sums (chanOut, kHeight, runVectors · lanes) += sample b's weight gradient; the entries past
  // kWidth · chanIn hold anything. Scratch: bandFloats.
  void (*fewOutputsWeightGradientSample)(const FewOutputsPlan& plan, const float* x, const float* dy, float* sums,
                                         int64_t b, float* scratch);
};
const Conv2dKernels& conv2dKernelsAvx2();
const Conv2dKernels& conv2dKernelsAvx512();
const Conv2dKernels& conv2dKernelsNeon();

// Plain loops in double precision, the oracle for the tests.
void conv2dForwardReference(const Conv2dShape& s, const float* x, const float* w, const float* bias, float* y);
void conv2dBackwardInputReference(const Conv2dShape& s, const float* dy, const float* w, float* dx);
void conv2dBackwardWeightReference(const Conv2dShape& s, const float* x, const float* dy, float* dw);

}  // namespace neurone
