// refcodec runs the quantization reference code of a libggml-base shared
// library, for TestCodecsMatchLibggml: refcodec LIB MODE < input > output.
// MODE is one of f16enc, f16dec, q8enc, q8dec, mxenc, mxdec, nvenc, nvdec;
// encoders read float32 values, decoders read blocks (f16dec: uint16 values).
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *sym(void *h, const char *name) {
    void *p = dlsym(h, name);
    if (!p) { fprintf(stderr, "refcodec: %s: %s\n", name, dlerror()); exit(2); }
    return p;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: refcodec LIB MODE\n"); return 2; }
    void *h = dlopen(argv[1], RTLD_NOW);
    if (!h) { fprintf(stderr, "refcodec: %s\n", dlerror()); return 2; }
    size_t cap = 1 << 20, n = 0, r;
    unsigned char *in = malloc(cap);
    while ((r = fread(in + n, 1, cap - n, stdin)) > 0) {
        n += r;
        if (n == cap) { cap *= 2; in = realloc(in, cap); }
    }
    const char *m = argv[2];
    typedef void (*qfn)(const float *, void *, int64_t);
    typedef void (*dfn)(const void *, float *, int64_t);
    struct { const char *mode, *fn; int elems, bytes, enc; } tab[] = {
        {"q8enc", "quantize_row_q8_0_ref", 32, 34, 1}, {"q8dec", "dequantize_row_q8_0", 32, 34, 0},
        {"mxenc", "quantize_row_mxfp4_ref", 32, 17, 1}, {"mxdec", "dequantize_row_mxfp4", 32, 17, 0},
        {"nvenc", "quantize_row_nvfp4_ref", 64, 36, 1}, {"nvdec", "dequantize_row_nvfp4", 64, 36, 0},
    };
    if (!strcmp(m, "f16enc")) {
        uint16_t (*f)(float) = (uint16_t (*)(float))sym(h, "ggml_fp32_to_fp16");
        for (size_t i = 0; i + 4 <= n; i += 4) {
            float x; memcpy(&x, in + i, 4);
            uint16_t y = f(x); fwrite(&y, 2, 1, stdout);
        }
        return 0;
    }
    if (!strcmp(m, "f16dec")) {
        float (*f)(uint16_t) = (float (*)(uint16_t))sym(h, "ggml_fp16_to_fp32");
        for (size_t i = 0; i + 2 <= n; i += 2) {
            uint16_t x; memcpy(&x, in + i, 2);
            float y = f(x); fwrite(&y, 4, 1, stdout);
        }
        return 0;
    }
    for (size_t t = 0; t < sizeof tab / sizeof tab[0]; t++) {
        if (strcmp(m, tab[t].mode)) continue;
        if (tab[t].enc) {
            int64_t k = n / 4 / tab[t].elems * tab[t].elems;
            void *out = malloc(k / tab[t].elems * tab[t].bytes + 1);
            ((qfn)sym(h, tab[t].fn))((const float *)in, out, k);
            fwrite(out, tab[t].bytes, k / tab[t].elems, stdout);
        } else {
            int64_t nb = n / tab[t].bytes, k = nb * tab[t].elems;
            float *out = malloc(k * 4 + 4);
            ((dfn)sym(h, tab[t].fn))(in, out, k);
            fwrite(out, 4, k, stdout);
        }
        return 0;
    }
    fprintf(stderr, "refcodec: unknown mode %s\n", m);
    return 2;
}
