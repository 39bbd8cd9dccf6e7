/* Average pool micro-kernel, 32 channels per step (AVX2): taps summed in
 * int16 (at most 256 taps, |sum| <= 32768, before each flush into int32),
 * the rounded division by the tap count as a multiply and shift on even/odd
 * lanes (nn_common/pool_div.h, exact), saturating packs and the int8 clamp.
 * Then 8-channel steps with int32 sums, then the reference formula for the
 * last channels. */
#include <immintrin.h>

#include "ember/kernels.h"
#include "nn_common/pool_div.h"

typedef struct {
    __m256i magic, half;
    __m128i shift;
} ember_div_avx2;

/* sign(sum) * ((|sum| + n/2) * magic >> shift). */
static inline __m256i ember_pool_div_avx2(__m256i sum, const ember_div_avx2 *d) {
    const __m256i u = _mm256_add_epi32(_mm256_abs_epi32(sum), d->half);
    const __m256i even = _mm256_srl_epi64(_mm256_mul_epu32(u, d->magic), d->shift);
    const __m256i odd = _mm256_srl_epi64(_mm256_mul_epu32(_mm256_srli_epi64(u, 32), d->magic), d->shift);
    return _mm256_sign_epi32(_mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA), sum);
}

/* int16 partial sums of channels 0-15 (s0) and 16-31 (s1) into int32 acc[4]. */
static inline void ember_flush32_avx2(__m256i s0, __m256i s1, __m256i acc[4]) {
    acc[0] = _mm256_add_epi32(acc[0], _mm256_cvtepi16_epi32(_mm256_castsi256_si128(s0)));
    acc[1] = _mm256_add_epi32(acc[1], _mm256_cvtepi16_epi32(_mm256_extracti128_si256(s0, 1)));
    acc[2] = _mm256_add_epi32(acc[2], _mm256_cvtepi16_epi32(_mm256_castsi256_si128(s1)));
    acc[3] = _mm256_add_epi32(acc[3], _mm256_cvtepi16_epi32(_mm256_extracti128_si256(s1, 1)));
}

/* One output pixel, all channels. */
static inline void ember_avgpool_pixel_avx2(const int8_t *x, size_t kh, size_t kw, size_t row_stride,
                                            size_t channels, int8_t *out, const ember_div_avx2 *d, __m256i lo,
                                            __m256i hi, const ember_pool_stage *st) {
    size_t c = 0;
    for (; c + 32 <= channels; c += 32) {
        __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                          _mm256_setzero_si256()};
        __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
        size_t t = 0;
        for (size_t i = 0; i < kh; ++i) {
            const int8_t *px = x + i * row_stride + c;
            for (size_t j = 0; j < kw; ++j, px += channels) {
                const __m256i v = _mm256_loadu_si256((const __m256i *)px);
                s0 = _mm256_add_epi16(s0, _mm256_cvtepi8_epi16(_mm256_castsi256_si128(v)));
                s1 = _mm256_add_epi16(s1, _mm256_cvtepi8_epi16(_mm256_extracti128_si256(v, 1)));
                if (++t == 256) {
                    ember_flush32_avx2(s0, s1, acc);
                    s0 = s1 = _mm256_setzero_si256();
                    t = 0;
                }
            }
        }
        ember_flush32_avx2(s0, s1, acc);
        for (int k = 0; k < 4; ++k) acc[k] = ember_pool_div_avx2(acc[k], d);
        const __m256i w = _mm256_packs_epi16(_mm256_packs_epi32(acc[0], acc[1]), _mm256_packs_epi32(acc[2], acc[3]));
        const __m256i v = _mm256_permutevar8x32_epi32(w, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(out + c), _mm256_min_epi8(_mm256_max_epi8(v, lo), hi));
    }
    for (; c + 8 <= channels; c += 8) {
        __m256i acc = _mm256_setzero_si256();
        for (size_t i = 0; i < kh; ++i) {
            const int8_t *px = x + i * row_stride + c;
            for (size_t j = 0; j < kw; ++j, px += channels)
                acc = _mm256_add_epi32(acc, _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)px)));
        }
        const __m256i q = ember_pool_div_avx2(acc, d);
        const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
        const __m128i v = _mm_packs_epi16(w, w);
        _mm_storel_epi64((__m128i *)(out + c),
                         _mm_min_epi8(_mm_max_epi8(v, _mm256_castsi256_si128(lo)), _mm256_castsi256_si128(hi)));
    }
    for (; c < channels; ++c) {
        int32_t sum = 0;
        for (size_t i = 0; i < kh; ++i)
            for (size_t j = 0; j < kw; ++j) sum += x[i * row_stride + j * channels + c];
        const int32_t avg = ember_pool_avg_round(sum, (int32_t)(kh * kw));
        out[c] = (int8_t)(avg < st->act_min ? st->act_min : (avg > st->act_max ? st->act_max : avg));
    }
}

static void ember_avgpool_32c_avx2(size_t pixels, const int8_t *x, size_t pixel_step, size_t kh, size_t kw,
                                   size_t row_stride, size_t channels, int8_t *out, const ember_pool_stage *st) {
    ember_div_avx2 d;
    d.magic = _mm256_set1_epi32((int32_t)st->div_magic);
    d.half = _mm256_set1_epi32(st->div_half);
    d.shift = _mm_cvtsi32_si128(st->div_shift);
    const __m256i lo = _mm256_set1_epi8((int8_t)st->act_min), hi = _mm256_set1_epi8((int8_t)st->act_max);
    for (size_t p = 0; p < pixels; ++p, x += pixel_step, out += channels)
        ember_avgpool_pixel_avx2(x, kh, kw, row_stride, channels, out, &d, lo, hi, st);
}

const ember_pool_ukernel ember_avgpool_32c__avx2 = {ember_avgpool_32c_avx2};
