/* test_tokenizer.c - the CLIP BPE tokenizer against clip.tokenize on all 205 golden strings,
 * plus the cleaning rules (HTML unescape, white space, Unicode lower-casing) one by one. */
#include <stdint.h>

#include "core/status.h"
#include "core/unicode.h"
#include "io/h5.h"
#include "model/bpe.h"
#include "tap.h"

static void check_clean(const char *in, const char *want)
{
    char *got = NULL;
    int rc = ws_bpe_clean(in, &got);
    ok(rc == 0 && got && !strcmp(got, want), "clean '%s' -> '%s' (got '%s')", in, want, got ? got : "(error)");
    free(got);
}

int main(void)
{
    char path[4200];
    const char *gd = golden_dir();
    ws_bpe bpe;
    ws_h5file f;
    ws_array tok = {0}, too = {0}, ntu = {0};
    char **strs = NULL, **cleaned = NULL, **pieces = NULL;
    size_t n = 0, nc = 0, np = 0;

    snprintf(path, sizeof path, "%s/bpe_simple_vocab_16e6.txt.gz", gd);
    if (!ok(ws_bpe_load(&bpe, path) == 0, "load %s", path)) { diag("%s", ws_last_error()); return done_testing(); }
    ok(bpe.vocab_size == 49408, "vocabulary has 49408 entries (%d)", bpe.vocab_size);
    snprintf(path, sizeof path, "%s/clip_tiny_ref.h5", gd);
    if (ws_h5_open(&f, path) || ws_h5_read_strings(&f, "/tokenizer/strings", &strs, &n) ||
        ws_h5_read_strings(&f, "/tokenizer/cleaned", &cleaned, &nc) ||
        ws_h5_read_strings(&f, "/tokenizer/bpe_pieces", &pieces, &np) ||
        ws_h5_read(&f, "/tokenizer/tokens", WS_I32, &tok) || ws_h5_read(&f, "/tokenizer/too_long", WS_U8, &too) ||
        ws_h5_read(&f, "/tokenizer/n_tokens_untruncated", WS_I32, &ntu)) {
        ok(0, "read golden tokenizer data: %s", ws_last_error());
        return done_testing();
    }
    ok(n == 205 && nc == n && np == n, "205 golden strings (%zu)", n);
    for (size_t i = 0; i < n; i++) {
        int32_t ids[WS_BPE_CONTEXT];
        int nt = 0, rc = ws_bpe_tokenize(&bpe, strs[i], 1, WS_BPE_CONTEXT, ids, &nt);
        const int32_t *want = (const int32_t *)tok.data + i * WS_BPE_CONTEXT;
        int same = rc == 0 && !memcmp(ids, want, sizeof ids);
        ok(same && nt == ((int32_t *)ntu.data)[i] && (nt > 77) == ((uint8_t *)too.data)[i],
           "ids of string %zu '%.40s' (%d tokens)", i, strs[i], nt);
        if (!same)
            for (int k = 0; k < WS_BPE_CONTEXT; k++)
                if (ids[k] != want[k]) { diag("first difference at %d: got %d want %d", k, ids[k], want[k]); break; }
        char *c = NULL;
        ok(ws_bpe_clean(strs[i], &c) == 0 && !strcmp(c, cleaned[i]), "cleaned text of string %zu", i);
        free(c);
        int32_t *raw = NULL;
        size_t k = 0;
        char buf[8192] = "";
        ws_bpe_encode(&bpe, strs[i], &raw, &k);
        for (size_t j = 0; j < k && strlen(buf) < sizeof buf - 100; j++) {
            if (j) strcat(buf, " ");
            strcat(buf, ws_bpe_piece(&bpe, raw[j]));
        }
        free(raw);
        ok(!strcmp(buf, pieces[i]) || strlen(pieces[i]) >= sizeof buf - 100, "bpe pieces of string %zu", i);
        /* without truncation a too-long text is an error, as clip.tokenize raises */
        if (((uint8_t *)too.data)[i])
            ok(ws_bpe_tokenize(&bpe, strs[i], 0, WS_BPE_CONTEXT, ids, NULL) == WS_EINVAL &&
               strstr(ws_last_error(), "too long"), "string %zu is refused without --truncate", i);
    }
    /* cleaning rules in isolation */
    check_clean("  Hello\t\n WORLD  ", "hello world");
    check_clean("fish &amp;amp; chips", "fish & chips");           /* unescaped twice */
    check_clean("&lt;b&gt; &#65;&#x42; &notit; &bogus;", "<b> ab ¬it; &bogus;");
    check_clean("\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3 \xCE\xA3", "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82 \xCF\x83"); /* final sigma */
    check_clean("\xC4\xB0stanbul", "i\xCC\x87stanbul");             /* U+0130 lowers to 2 code points */
    ok(ws_uc_is_space(0x3000) && ws_uc_is_space(0x1C) && !ws_uc_is_space(0x200B), "white space is str.isspace");
    ok(ws_bpe_load(&(ws_bpe){0}, "/nonexistent/bpe.txt.gz") == WS_EIO && strstr(ws_last_error(), "/nonexistent/bpe.txt.gz"),
       "a missing vocabulary names the file: %s", ws_last_error());
    ws_h5_strings_free(strs, n);
    ws_h5_strings_free(cleaned, nc);
    ws_h5_strings_free(pieces, np);
    ws_array_free(&tok);
    ws_array_free(&too);
    ws_array_free(&ntu);
    ws_h5_close(&f);
    ws_bpe_free(&bpe);
    return done_testing();
}
