/* names.h - moved to data/names.h (the class lists are dataset knowledge: data/classes.c builds every
 * stage's class list from them). Kept so that existing includes and installed users still build. */
#ifndef WS_METHOD_NAMES_H
#define WS_METHOD_NAMES_H
#include "data/names.h"
#endif
