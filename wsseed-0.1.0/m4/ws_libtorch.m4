# ws_libtorch.m4 - find libtorch (ATen) for the C++ shim and the settings its build needs.
#
# WS_LIBTORCH sets TORCH_CPPFLAGS, TORCH_CXXFLAGS (C++ standard, _GLIBCXX_USE_CXX11_ABI), TORCH_LDFLAGS
# and TORCH_LIBS, defines WS_TORCH_VERSION_MAJOR/MINOR (some C kernels copy ATen's arithmetic,
# which changed between 1.x and 2.x) and WS_HAVE_CUDA when the libtorch has its CUDA libraries,
# and the automake conditional WS_CUDA.
#
# --with-libtorch=DIR takes any of
#   DIR/include + DIR/lib        an unpacked PyTorch release (libtorch/{include,lib,share/cmake})
#                                or a prefix like /usr/local
#   DIR/libtorch/...             the folder the release zip was unpacked in
#   DIR/torch/{include,lib}      a Python site-packages holding a torch wheel
# Without it, Debian's libtorch-dev (or libtorch-cuda-dev) in /usr.

# WS_LIBTORCH_LAYOUT(DIR): sets ws_torch_root to the folder holding include/ and lib/, or empty.
AC_DEFUN([WS_LIBTORCH_LAYOUT],
[ws_torch_root=""
for ws_d in "$1" "$1/libtorch" "$1/torch"; do
  AS_IF([test -r "$ws_d/include/ATen/ATen.h" && test -d "$ws_d/lib"], [ws_torch_root=$ws_d; break])
done])

# WS_LIBTORCH_TRY(EXTRA-CXXFLAGS, ACTION-IF-LINKS, ACTION-IF-NOT): link a program that calls into
# libc10 and libtorch_cpu with a std::string argument, so a wrong C++ ABI fails to link.
AC_DEFUN([WS_LIBTORCH_TRY],
[ws_save_CPPFLAGS=$CPPFLAGS; ws_save_LDFLAGS=$LDFLAGS; ws_save_LIBS=$LIBS; ws_save_CXXFLAGS=$CXXFLAGS
CPPFLAGS="$CPPFLAGS $TORCH_CPPFLAGS"; LDFLAGS="$LDFLAGS $TORCH_LDFLAGS"; LIBS="$TORCH_LIBS $LIBS"
CXXFLAGS="$CXXFLAGS $1"
AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <string>
#include <ATen/ATen.h>]],
  [[std::string s("cpu");
    c10::Device d(s);
    at::Tensor t = at::ones({2}, at::TensorOptions().device(d));
    return (int)t.numel() - 2 + (int)d.str().size() - 3;]])], [$2], [$3])
CPPFLAGS=$ws_save_CPPFLAGS; LDFLAGS=$ws_save_LDFLAGS; LIBS=$ws_save_LIBS; CXXFLAGS=$ws_save_CXXFLAGS])

AC_DEFUN([WS_LIBTORCH],
[AC_ARG_WITH([libtorch],
  [AS_HELP_STRING([--with-libtorch=DIR],
    [libtorch to build against: an unpacked PyTorch release (DIR/include, DIR/lib), the folder
     holding it, or a Python site-packages with a torch wheel (DIR/torch) (default: Debian's
     libtorch-dev in /usr)])],
  [], [with_libtorch=default])
AS_IF([test "x$with_libtorch" = xno], [AC_MSG_ERROR([wsseed needs libtorch: --without-libtorch is not possible])])
AS_IF([test "x$with_libtorch" = xdefault || test "x$with_libtorch" = xyes],
  [ws_torch_root=""
   ws_torch_inc=/usr/include
   TORCH_CPPFLAGS="-I/usr/include/torch/csrc/api/include"
   TORCH_LDFLAGS=""],
  [WS_LIBTORCH_LAYOUT([$with_libtorch])
   AS_IF([test -z "$ws_torch_root"],
     [AC_MSG_ERROR([--with-libtorch=$with_libtorch: no libtorch there: expected DIR/include/ATen/ATen.h and DIR/lib
       (a PyTorch release), DIR/libtorch/... (the folder it was unpacked in) or DIR/torch/... (site-packages with a torch wheel)])])
   ws_torch_inc=$ws_torch_root/include
   TORCH_CPPFLAGS="-I$ws_torch_root/include -I$ws_torch_root/include/torch/csrc/api/include"
   TORCH_LDFLAGS="-L$ws_torch_root/lib -Wl,-rpath,$ws_torch_root/lib"])
TORCH_LIBS="-ltorch -ltorch_cpu -lc10"

# The version, from torch/version.h (a plain header of macros).
ws_torch_vh="$ws_torch_inc/torch/csrc/api/include/torch/version.h"
ws_torch_major=`sed -n 's/^#define TORCH_VERSION_MAJOR \(@<:@0-9@:>@*\).*/\1/p' "$ws_torch_vh" 2>/dev/null`
ws_torch_minor=`sed -n 's/^#define TORCH_VERSION_MINOR \(@<:@0-9@:>@*\).*/\1/p' "$ws_torch_vh" 2>/dev/null`
AS_IF([test -z "$ws_torch_major" || test -z "$ws_torch_minor"],
  [AC_MSG_ERROR([cannot read libtorch's version from $ws_torch_vh])])

# CUDA: the CUDA libraries beside libtorch (a release or wheel), or where the linker finds them
# (Debian's libtorch-cuda-dev). Linked without --as-needed so CUDA's operators register at load.
ws_have_cuda=no
AS_IF([test -n "$ws_torch_root"],
  [AS_IF([test -e "$ws_torch_root/lib/libtorch_cuda.so"], [ws_have_cuda=yes])],
  [ws_f=`$CXX $LDFLAGS -print-file-name=libtorch_cuda.so 2>/dev/null`
   AS_IF([test "x$ws_f" != "xlibtorch_cuda.so" && test -e "$ws_f"], [ws_have_cuda=yes])])
AS_IF([test $ws_have_cuda = yes],
  [TORCH_LIBS="-Wl,--push-state,--no-as-needed -ltorch_cuda -lc10_cuda -Wl,--pop-state $TORCH_LIBS"
   AC_DEFINE([WS_HAVE_CUDA], [1], [libtorch was built with CUDA (libtorch_cuda is linked)])])

AC_LANG_PUSH([C++])
# The C++ standard: libtorch 2.x needs C++17; later releases may need C++20.
AC_MSG_CHECKING([for the C++ standard libtorch needs])
TORCH_CXXFLAGS=""
for ws_std in c++17 c++20; do
  WS_LIBTORCH_TRY([-std=$ws_std], [TORCH_CXXFLAGS="-std=$ws_std"; break])
done
AS_IF([test -n "$TORCH_CXXFLAGS"],
  [AC_MSG_RESULT([$TORCH_CXXFLAGS (its default C++ ABI)])],
  [# Not linkable as it is: the ABI may differ (PyTorch's pre-C++11-ABI releases and wheels).
   for ws_std in c++17 c++20; do
     for ws_abi in 0 1; do
       WS_LIBTORCH_TRY([-std=$ws_std -D_GLIBCXX_USE_CXX11_ABI=$ws_abi],
         [TORCH_CXXFLAGS="-std=$ws_std -D_GLIBCXX_USE_CXX11_ABI=$ws_abi"; break 2])
     done
   done
   AS_IF([test -n "$TORCH_CXXFLAGS"], [AC_MSG_RESULT([$TORCH_CXXFLAGS])],
     [AC_MSG_RESULT([none])
      AC_MSG_ERROR([libtorch not found or not linkable (tried C++17/C++20 and both _GLIBCXX_USE_CXX11_ABI values; see config.log):
        install Debian's libtorch-dev (apt-get install libtorch-dev) or pass --with-libtorch=DIR])])])
AC_LANG_POP([C++])

AC_MSG_CHECKING([for the libtorch version])
AC_MSG_RESULT([$ws_torch_major.$ws_torch_minor])
AC_DEFINE_UNQUOTED([WS_TORCH_VERSION_MAJOR], [$ws_torch_major], [libtorch major version built against])
AC_DEFINE_UNQUOTED([WS_TORCH_VERSION_MINOR], [$ws_torch_minor], [libtorch minor version built against])
AC_MSG_CHECKING([whether libtorch has CUDA])
AC_MSG_RESULT([$ws_have_cuda])
AM_CONDITIONAL([WS_CUDA], [test $ws_have_cuda = yes])
AC_SUBST([TORCH_CPPFLAGS])
AC_SUBST([TORCH_CXXFLAGS])
AC_SUBST([TORCH_LDFLAGS])
AC_SUBST([TORCH_LIBS])
ws_torch_summary="$ws_torch_major.$ws_torch_minor ($with_libtorch; $TORCH_CXXFLAGS; cuda=$ws_have_cuda)"
])
