// How an x86 microkernel picks its tile: a table of tile functions, one per row count (1 to MR),
// column width (one vector of columns or two) and layout of B (a packed panel or in place), filled
// from the path's tile template, and the microkernel entry that indexes it. Written once for the
// AVX2 and AVX-512 files; each passes its tiles as a struct whose `of<R, NV, InPlaceB, RowMajorA,
// TransC>` is the tile function.
//
// Included by files compiled with SIMD flags: everything here has internal linkage (an anonymous
// namespace, as simd.h explains), so no copy compiled for one instruction set can be linked into
// another's caller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

namespace neurone {
namespace gemm {
namespace {

using TileFn = void (*)(int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t, float, float);

template <typename Tiles, bool RowMajorA, bool TransC, size_t... R>
struct TileSet {
  // [B in place][full width][rows - 1]
  TileFn fn[2][2][sizeof...(R)] = {{{Tiles::template of<R + 1, 1, false, RowMajorA, TransC>...},
                                    {Tiles::template of<R + 1, 2, false, RowMajorA, TransC>...}},
                                   {{Tiles::template of<R + 1, 1, true, RowMajorA, TransC>...},
                                    {Tiles::template of<R + 1, 2, true, RowMajorA, TransC>...}}};
};

template <typename Tiles, bool RowMajorA, bool TransC, size_t... R>
constexpr TileSet<Tiles, RowMajorA, TransC, R...> makeTileSet(std::index_sequence<R...>) {
  return TileSet<Tiles, RowMajorA, TransC, R...>{};
}

// The microkernel entry point (GemmKernels' signature): the tile for this edge (mr rows; nr
// columns, more than half of NR taking two vectors) and B's layout.
template <typename Tiles, int MR, int NR, bool RowMajorA, bool TransC>
void microkernel(int64_t mr, int64_t nr, int64_t kc, const float* a, int64_t as, const float* b, int64_t bs, float* c,
                 int64_t ldc, float alpha, float beta) {
  static constexpr auto kTiles = makeTileSet<Tiles, RowMajorA, TransC>(std::make_index_sequence<MR>());
  // Packed panels (bs == NR) are contiguous and prefetched by the hardware.
  kTiles.fn[bs == NR ? 0 : 1][nr > NR / 2 ? 1 : 0][mr - 1](nr, kc, a, as, b, bs, c, ldc, alpha, beta);
}

}  // namespace
}  // namespace gemm
}  // namespace neurone
