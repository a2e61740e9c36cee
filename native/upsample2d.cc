// Nearest-neighbour upsampling (upsample2d.h): plain loops the compiler vectorises over the
// channels; the work is moving memory, the same on every kernel path.
#include "upsample2d.h"

#include <cstring>

namespace neurone {

namespace {

// fn(r) for each input row r = b · height + iy, on the pool's threads when the image is large
// enough for them to pay.
template <typename Fn>
void forInputRows(const Upsample2dShape& s, ThreadPool* pool, const Fn& fn) {
  const int64_t rows = s.batch * s.height;
  const bool threaded =
      pool && pool->threads() > 1 && rows > 1 && rows * s.outWidth() * s.scaleHeight * s.chan >= (int64_t{1} << 16);
  parallelFor(threaded ? pool : nullptr, rows, [&](int64_t r, int) { fn(r); });
}

}  // namespace

void upsample2dForward(const Upsample2dShape& s, const float* x, float* y, ThreadPool* pool) {
  const int64_t chan = s.chan, sw = s.scaleWidth, outRow = s.outWidth() * chan;
  forInputRows(s, pool, [&](int64_t r) {
    const float* in = x + r * s.width * chan;
    float* out = y + r * s.scaleHeight * outRow;
    // The first copy of the row pixel by pixel, then the others whole.
    for (int64_t ix = 0; ix < s.width; ix++, in += chan)
      for (int64_t sx = 0; sx < sw; sx++) {
        float* to = out + (ix * sw + sx) * chan;
        for (int64_t c = 0; c < chan; c++) to[c] = in[c];
      }
    for (int64_t sy = 1; sy < s.scaleHeight; sy++) std::memcpy(out + sy * outRow, out, outRow * sizeof(float));
  });
}

void upsample2dBackward(const Upsample2dShape& s, const float* dy, float* dx, ThreadPool* pool) {
  const int64_t chan = s.chan, sw = s.scaleWidth, outRow = s.outWidth() * chan;
  forInputRows(s, pool, [&](int64_t r) {
    float* out = dx + r * s.width * chan;
    const float* rows = dy + r * s.scaleHeight * outRow;
    for (int64_t ix = 0; ix < s.width; ix++, out += chan) {
      const float* first = rows + ix * sw * chan;
      for (int64_t c = 0; c < chan; c++) out[c] = 0.0f;
      for (int64_t sy = 0; sy < s.scaleHeight; sy++)
        for (int64_t sx = 0; sx < sw; sx++) {
          const float* from = first + sy * outRow + sx * chan;
          for (int64_t c = 0; c < chan; c++) out[c] += from[c];
        }
    }
  });
}

}  // namespace neurone
