/* qvm-schema-pattern.c: "pattern", from ECMA-262 to GRegex
 *
 * Copyright 2026 The qvm-glib authors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * JSON Schema patterns are ECMA-262 regular expressions; GRegex is PCRE,
 * which reads some of the same text differently (\d, \w, \b, \uXXXX, "[]",
 * "$"). This file rewrites a pattern so that PCRE means what the schema's
 * author meant; it is the one place that knows both dialects.
 */

#include "config.h"

#include <gio/gio.h>

#include "qvm-i18n-private.h"
#include "qvm-schema-internal-private.h"

static gboolean
read_hex4 (const char *p,
           gunichar   *value)
{
  *value = 0;
  for (guint i = 0; i < 4; i++)
    {
      int digit = g_ascii_xdigit_value (p[i]);

      if (digit < 0)
        return FALSE;
      *value = *value * 16 + (gunichar) digit;
    }
  return TRUE;
}

/* ECMA-262's \uXXXX, which PCRE refuses, becomes \x{XXXX}; a surrogate
 * pair becomes the one character it encodes. Advances *@p past what it
 * translated and returns TRUE, or returns FALSE for a malformed escape. */
static gboolean
translate_unicode_escape (GString     *out,
                          const char **p)
{
  gunichar value, low;

  if (!read_hex4 (*p + 2, &value))
    return FALSE;
  *p += 6;

  if (value >= 0xd800 && value < 0xdc00 && (*p)[0] == '\\' && (*p)[1] == 'u' &&
      read_hex4 (*p + 2, &low) && low >= 0xdc00 && low < 0xe000)
    {
      value = 0x10000 + ((value - 0xd800) << 10) + (low - 0xdc00);
      *p += 6;
    }

  g_string_append_printf (out, "\\x{%04x}", value);
  return TRUE;
}

/* GRegex is PCRE with Unicode properties, where \d matches any decimal
 * digit (Arabic-Indic ones too) and \w any letter; ECMA-262, the dialect
 * of JSON Schema, means ASCII by them. Rewrite those escapes to explicit
 * ASCII classes so that "^\\d+$" cannot let "٣" through. */
static char *
translate_pattern (const char  *source,
                   GError     **error)
{
  static const char word[] = "A-Za-z0-9_";
  g_autoptr(GString) out = g_string_new (NULL);
  gboolean in_class = FALSE;
  const char *p = source;

  while (*p != '\0')
    {
      if (*p == '\\' && p[1] != '\0')
        {
          char escape = p[1];

          switch (escape)
            {
            case 'd':
              g_string_append (out, in_class ? "0-9" : "[0-9]");
              break;
            case 'w':
              g_string_append_printf (out, in_class ? "%s" : "[%s]", word);
              break;
            case 'D':
            case 'W':
              if (in_class)
                {
                  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                               /* Translators: %c is a letter, D or W */
                               _("\\%c inside a character class is not supported"), escape);
                  return NULL;
                }
              g_string_append_printf (out, "[^%s]", escape == 'D' ? "0-9" : word);
              break;
            case 'u':
              if (translate_unicode_escape (out, &p))
                continue;
              g_string_append (out, "\\u");
              break;
            case 'b':
            case 'B':
              if (in_class)
                g_string_append (out, escape == 'b' ? "\\b" : "\\B");
              else if (escape == 'b')
                g_string_append_printf (out, "(?:(?<=[%s])(?![%s])|(?<![%s])(?=[%s]))",
                                        word, word, word, word);
              else
                g_string_append_printf (out, "(?:(?<=[%s])(?=[%s])|(?<![%s])(?![%s]))",
                                        word, word, word, word);
              break;
            default:
              {
                /* Copy the escaped character whole, even when multi-byte. */
                const char *next = g_utf8_next_char (p + 1);

                g_string_append_len (out, p, next - p);
                p = next;
                continue;
              }
            }
          p += 2;
          continue;
        }

      if (!in_class && *p == '[')
        {
          in_class = TRUE;
          g_string_append_c (out, *p++);
          if (*p == '^')
            g_string_append_c (out, *p++);
          /* In ECMA-262 "[]" matches nothing and "[^]" anything, where
           * PCRE would read the ']' as a literal member. */
          if (*p == ']')
            {
              gboolean negated = out->str[out->len - 1] == '^';

              g_string_truncate (out, out->len - (negated ? 2 : 1));
              g_string_append (out, negated ? "[\\s\\S]" : "[^\\s\\S]");
              in_class = FALSE;
              p++;
            }
          continue;
        }
      if (in_class && *p == ']')
        in_class = FALSE;

      g_string_append_c (out, *p++);
    }

  return g_string_free (g_steal_pointer (&out), FALSE);
}


GRegex *
qvm_schema_pattern_compile (const char  *source,
                            GError     **error)
{
  g_autofree char *translated = translate_pattern (source, error);

  if (translated == NULL)
    return NULL;

  /* ECMA-262's $ matches only at the very end, PCRE's also before a
   * final newline: "^[a-z]+$" must not accept "abc\n". */
  return g_regex_new (translated, G_REGEX_DOLLAR_ENDONLY, 0, error);
}
