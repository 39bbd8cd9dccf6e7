/* Max pool micro-kernel, 16 channels per step (SSE4.1): pmaxsb over the
 * window's taps, then the int8 clamp; an 8-channel step, then the last
 * channels one by one. */
#include <smmintrin.h>

#include "ember/kernels.h"

static void ember_maxpool_16c_sse41(size_t pixels, const int8_t *x, size_t pixel_step, size_t kh, size_t kw,
                                    size_t row_stride, size_t channels, int8_t *out, const ember_pool_stage *st) {
    const __m128i lo = _mm_set1_epi8((int8_t)st->act_min), hi = _mm_set1_epi8((int8_t)st->act_max);
    for (size_t p = 0; p < pixels; ++p, x += pixel_step, out += channels) {
        size_t c = 0;
        for (; c + 16 <= channels; c += 16) {
            __m128i m = _mm_set1_epi8(-128);
            for (size_t i = 0; i < kh; ++i) {
                const int8_t *px = x + i * row_stride + c;
                for (size_t j = 0; j < kw; ++j, px += channels)
                    m = _mm_max_epi8(m, _mm_loadu_si128((const __m128i *)px));
            }
            _mm_storeu_si128((__m128i *)(out + c), _mm_min_epi8(_mm_max_epi8(m, lo), hi));
        }
        if (c + 8 <= channels) {
            __m128i m = _mm_set1_epi8(-128);
            for (size_t i = 0; i < kh; ++i) {
                const int8_t *px = x + i * row_stride + c;
                for (size_t j = 0; j < kw; ++j, px += channels)
                    m = _mm_max_epi8(m, _mm_loadl_epi64((const __m128i *)px));
            }
            _mm_storel_epi64((__m128i *)(out + c), _mm_min_epi8(_mm_max_epi8(m, lo), hi));
            c += 8;
        }
        for (; c < channels; ++c) {
            int32_t m = -128;
            for (size_t i = 0; i < kh; ++i)
                for (size_t j = 0; j < kw; ++j) {
                    const int32_t v = x[i * row_stride + j * channels + c];
                    if (v > m) m = v;
                }
            out[c] = (int8_t)(m < st->act_min ? st->act_min : (m > st->act_max ? st->act_max : m));
        }
    }
}

const ember_pool_ukernel ember_maxpool_16c__sse41 = {ember_maxpool_16c_sse41};
