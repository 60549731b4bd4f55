/* valgrind_hwy_stub.c - a stand-in libhwy.so.1 for tests/test_valgrind.sh only.
 *
 * libtorch_cpu loads OpenCV, whose video reader loads libavcodec, which loads libjxl and with it libhwy
 * (Highway). libhwy 1.0's library constructor times itself with RDTSCP; valgrind decodes RDTSCP only
 * when CPUID reports it (CPUID 0x80000001 EDX bit 27), and virtual machines that execute the
 * instruction but hide that bit (this AMD EPYC host) make valgrind raise SIGILL before main. wsseed never
 * decodes JPEG XL, so under valgrind this library takes libhwy's place: it exports the five functions
 * libjxl imports (version HWY_0), runs no constructor, and aborts loudly if anything ever calls one. */
#include <stdio.h>
#include <stdlib.h>

static void never(const char *what)
{
    fprintf(stderr, "valgrind_hwy_stub: %s called: the libhwy stand-in of tests/test_valgrind.sh cannot serve it\n", what);
    abort();
}

/* C++ names of hwy 1.0 as libjxl 0.7 imports them */
void *hwy_allocate(void) __asm__("_ZN3hwy20AllocateAlignedBytesEmPFPvS0_mES0_");
void hwy_free(void) __asm__("_ZN3hwy16FreeAlignedBytesEPKvPFvPvS2_ES2_");
long hwy_supported(void) __asm__("_ZN3hwy16SupportedTargetsEv");
void hwy_delete_array(void) __asm__("_ZN3hwy14AlignedDeleter18DeleteAlignedArrayEPvPFvS1_S1_ES1_PFvS1_mE");
void *hwy_chosen(void) __asm__("_ZN3hwy15GetChosenTargetEv");

void *hwy_allocate(void) { never("hwy::AllocateAlignedBytes"); return NULL; }
void hwy_free(void) { never("hwy::FreeAlignedBytes"); }
long hwy_supported(void) { never("hwy::SupportedTargets"); return 0; }
void hwy_delete_array(void) { never("hwy::AlignedDeleter::DeleteAlignedArray"); }
void *hwy_chosen(void) { never("hwy::GetChosenTarget"); return NULL; }
