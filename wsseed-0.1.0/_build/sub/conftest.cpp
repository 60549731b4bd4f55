/* confdefs.h */
#define PACKAGE_NAME "wsseed"
#define PACKAGE_TARNAME "wsseed"
#define PACKAGE_VERSION "0.1.0"
#define PACKAGE_STRING "wsseed 0.1.0"
#define PACKAGE_BUGREPORT ""
#define PACKAGE_URL ""
#define PACKAGE "wsseed"
#define VERSION "0.1.0"
#define HAVE_STDIO_H 1
#define HAVE_STDLIB_H 1
#define HAVE_STRING_H 1
#define HAVE_INTTYPES_H 1
#define HAVE_STDINT_H 1
#define HAVE_STRINGS_H 1
#define HAVE_SYS_STAT_H 1
#define HAVE_SYS_TYPES_H 1
#define HAVE_UNISTD_H 1
#define STDC_HEADERS 1
#define HAVE_DLFCN_H 1
#define LT_OBJDIR ".libs/"
/* end confdefs.h.  */
#include <string>
#include <ATen/ATen.h>
int
main (void)
{
std::string s("cpu");
    c10::Device d(s);
    at::Tensor t = at::ones({2}, at::TensorOptions().device(d));
    return (int)t.numel() - 2 + (int)d.str().size() - 3;
  ;
  return 0;
}
