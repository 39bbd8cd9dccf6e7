/* Average pool micro-kernel, 16 channels per step (SSE4.1): the AVX2
 * kernel's scheme (csrc/average_pool_2d/avx2.c) on 128-bit vectors: int16
 * tap sums flushed into int32 every 256 taps, the exact multiply-and-shift
 * division (nn_common/pool_div.h) with pmuludq, saturating packs, int8
 * clamp. Then 8-channel steps, then the reference formula. */
#include <smmintrin.h>

#include "ember/kernels.h"
#include "nn_common/pool_div.h"

typedef struct {
    __m128i magic, half, shift;
} ember_div_sse41;

/* sign(sum) * ((|sum| + n/2) * magic >> shift). */
static inline __m128i ember_pool_div_sse41(__m128i sum, const ember_div_sse41 *d) {
    const __m128i u = _mm_add_epi32(_mm_abs_epi32(sum), d->half);
    const __m128i even = _mm_srl_epi64(_mm_mul_epu32(u, d->magic), d->shift);
    const __m128i odd = _mm_srl_epi64(_mm_mul_epu32(_mm_srli_epi64(u, 32), d->magic), d->shift);
    return _mm_sign_epi32(_mm_blend_epi16(even, _mm_slli_epi64(odd, 32), 0xCC), sum);
}

/* int16 partial sums of channels 0-7 (s0) and 8-15 (s1) into int32 acc[4]. */
static inline void ember_flush16_sse41(__m128i s0, __m128i s1, __m128i acc[4]) {
    acc[0] = _mm_add_epi32(acc[0], _mm_cvtepi16_epi32(s0));
    acc[1] = _mm_add_epi32(acc[1], _mm_cvtepi16_epi32(_mm_srli_si128(s0, 8)));
    acc[2] = _mm_add_epi32(acc[2], _mm_cvtepi16_epi32(s1));
    acc[3] = _mm_add_epi32(acc[3], _mm_cvtepi16_epi32(_mm_srli_si128(s1, 8)));
}

/* One output pixel, all channels. */
static inline void ember_avgpool_pixel_sse41(const int8_t *x, size_t kh, size_t kw, size_t row_stride,
                                             size_t channels, int8_t *out, const ember_div_sse41 *d, __m128i lo,
                                             __m128i hi, const ember_pool_stage *st) {
    size_t c = 0;
    for (; c + 16 <= channels; c += 16) {
        __m128i acc[4] = {_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128()};
        __m128i s0 = _mm_setzero_si128(), s1 = _mm_setzero_si128();
        size_t t = 0;
        for (size_t i = 0; i < kh; ++i) {
            const int8_t *px = x + i * row_stride + c;
            for (size_t j = 0; j < kw; ++j, px += channels) {
                const __m128i v = _mm_loadu_si128((const __m128i *)px);
                s0 = _mm_add_epi16(s0, _mm_cvtepi8_epi16(v));
                s1 = _mm_add_epi16(s1, _mm_cvtepi8_epi16(_mm_srli_si128(v, 8)));
                if (++t == 256) {
                    ember_flush16_sse41(s0, s1, acc);
                    s0 = s1 = _mm_setzero_si128();
                    t = 0;
                }
            }
        }
        ember_flush16_sse41(s0, s1, acc);
        for (int k = 0; k < 4; ++k) acc[k] = ember_pool_div_sse41(acc[k], d);
        const __m128i v = _mm_packs_epi16(_mm_packs_epi32(acc[0], acc[1]), _mm_packs_epi32(acc[2], acc[3]));
        _mm_storeu_si128((__m128i *)(out + c), _mm_min_epi8(_mm_max_epi8(v, lo), hi));
    }
    for (; c + 8 <= channels; c += 8) {
        __m128i a0 = _mm_setzero_si128(), a1 = _mm_setzero_si128();
        for (size_t i = 0; i < kh; ++i) {
            const int8_t *px = x + i * row_stride + c;
            for (size_t j = 0; j < kw; ++j, px += channels) {
                const __m128i v = _mm_loadl_epi64((const __m128i *)px);
                a0 = _mm_add_epi32(a0, _mm_cvtepi8_epi32(v));
                a1 = _mm_add_epi32(a1, _mm_cvtepi8_epi32(_mm_srli_si128(v, 4)));
            }
        }
        const __m128i w = _mm_packs_epi32(ember_pool_div_sse41(a0, d), ember_pool_div_sse41(a1, d));
        _mm_storel_epi64((__m128i *)(out + c), _mm_min_epi8(_mm_max_epi8(_mm_packs_epi16(w, w), lo), hi));
    }
    for (; c < channels; ++c) {
        int32_t sum = 0;
        for (size_t i = 0; i < kh; ++i)
            for (size_t j = 0; j < kw; ++j) sum += x[i * row_stride + j * channels + c];
        const int32_t avg = ember_pool_avg_round(sum, (int32_t)(kh * kw));
        out[c] = (int8_t)(avg < st->act_min ? st->act_min : (avg > st->act_max ? st->act_max : avg));
    }
}

static void ember_avgpool_16c_sse41(size_t pixels, const int8_t *x, size_t pixel_step, size_t kh, size_t kw,
                                    size_t row_stride, size_t channels, int8_t *out, const ember_pool_stage *st) {
    ember_div_sse41 d;
    d.magic = _mm_set1_epi32((int32_t)st->div_magic);
    d.half = _mm_set1_epi32(st->div_half);
    d.shift = _mm_cvtsi32_si128(st->div_shift);
    const __m128i lo = _mm_set1_epi8((int8_t)st->act_min), hi = _mm_set1_epi8((int8_t)st->act_max);
    for (size_t p = 0; p < pixels; ++p, x += pixel_step, out += channels)
        ember_avgpool_pixel_sse41(x, kh, kw, row_stride, channels, out, &d, lo, hi, st);
}

const ember_pool_ukernel ember_avgpool_16c__sse41 = {ember_avgpool_16c_sse41};
