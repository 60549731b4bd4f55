/* unicode.h - the Unicode facts the tokenizers need, without ICU.
 *
 * Tables are generated from Python's unicodedata (tools/gen_unicode.py, Unicode 14.0) so that
 * lower-casing, white space and letter/number classes behave exactly like Python's str methods,
 * which the official tokenizers use. Strings are handled as arrays of code points (uint32_t).
 */
#ifndef WS_CORE_UNICODE_H
#define WS_CORE_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* General categories, in the generator's order. */
enum {
    WS_UC_CN, WS_UC_LU, WS_UC_LL, WS_UC_LT, WS_UC_LM, WS_UC_LO, WS_UC_MN, WS_UC_MC, WS_UC_ME,
    WS_UC_ND, WS_UC_NL, WS_UC_NO, WS_UC_PC, WS_UC_PD, WS_UC_PS, WS_UC_PE, WS_UC_PI, WS_UC_PF,
    WS_UC_PO, WS_UC_SM, WS_UC_SC, WS_UC_SK, WS_UC_SO, WS_UC_ZS, WS_UC_ZL, WS_UC_ZP, WS_UC_CC,
    WS_UC_CF, WS_UC_CS, WS_UC_CO
};

/* Unicode version of the tables ("14.0.0"). */
const char *ws_uc_version(void);
int ws_uc_category(uint32_t cp);
/* Two-letter category name ("Lu", ...). */
const char *ws_uc_category_name(int cat);
int ws_uc_is_letter(uint32_t cp);   /* \p{L} */
int ws_uc_is_number(uint32_t cp);   /* \p{N} */
int ws_uc_is_space(uint32_t cp);    /* Python str.isspace() (also re's \s) */

/* Decodes UTF-8 into a malloc'd code-point array (*out, *n; caller frees). Invalid bytes
 * decode to U+FFFD. Returns 0 or WS_ENOMEM. */
int ws_utf8_decode(const char *s, size_t len, uint32_t **out, size_t *n);
/* Encodes code points as a malloc'd NUL-terminated UTF-8 string (NULL when out of memory). */
char *ws_utf8_encode(const uint32_t *cp, size_t n);
/* Appends the UTF-8 bytes of one code point to buf (needs 4 bytes); returns the count. */
int ws_utf8_put(uint32_t cp, char *buf);

/* Python str.lower() of in[0..n): full mappings (up to 3 code points each) and the Final_Sigma
 * rule. out must hold 3*n code points; returns the output length. */
size_t ws_uc_lower(const uint32_t *in, size_t n, uint32_t *out);

/* Python html.unescape() of in[0..n) (HTML5 named and numeric character references). out must
 * hold 2*n + 2 code points (named references never grow the text beyond that); returns the
 * output length. */
size_t ws_html_unescape(const uint32_t *in, size_t n, uint32_t *out);

/* Canonical decomposition (NFD) of in[0..n) without the canonical reordering of combining marks
 * (nothing downstream depends on their order: BERT drops them). out must hold 4*n code points;
 * returns the output length. */
size_t ws_uc_nfd(const uint32_t *in, size_t n, uint32_t *out);
#endif
