/* FP32 FMA throughput of this machine: every thread runs independent chains of
   512-bit fused multiply-adds (enough to cover the FMA latency on two pipes) and
   the program prints the achieved GFLOP/s (2 FLOP per lane per FMA).
   Build: cc -O2 -mavx512f -fopenmp fma_peak.c -o fma_peak; run: ./fma_peak SECONDS */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#define CHAINS 16
#define INNER 100000L

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    double total_flops = 0.0, elapsed = 0.0, sink = 0.0;
#pragma omp parallel reduction(+ : total_flops, sink) reduction(max : elapsed)
    {
        __m512 acc[CHAINS];
        const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
        for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_set1_ps((float)c);
        long rounds = 0;
        double start = omp_get_wtime(), now = start;
        while (now - start < seconds) {
            for (long i = 0; i < INNER; i++)
                for (int c = 0; c < CHAINS; c++) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
            rounds++;
            now = omp_get_wtime();
        }
        float out[16];
        for (int c = 1; c < CHAINS; c++) acc[0] = _mm512_add_ps(acc[0], acc[c]);
        _mm512_storeu_ps(out, acc[0]);
        sink += out[0];
        total_flops += (double)rounds * INNER * CHAINS * 16 * 2;
        elapsed = now - start;
    }
    printf("%.3f %d %g\n", total_flops / elapsed / 1e9, omp_get_max_threads(), sink);
    return 0;
}
