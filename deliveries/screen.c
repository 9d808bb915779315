/*
 * The row screen's kernel: one pass over a block of whole CSV records that says, for each
 * record, either "nothing wrong" or "look again", and hashes its primary key. It never
 * decides an issue: deliveries/screen.py compiles a data contract into the tables of
 * `screen_t` and explains the rules; deliveries/validation.py checks the flagged records
 * with the exact expressions. Built by deliveries/screen.py with the system's C compiler and
 * loaded with ctypes (no Python API here, so the calls run without the GIL).
 *
 * Everything here may only be cautious: whatever it is not certain of, it flags, and what it
 * cannot read the way polars reads CSV, it gives up on (SCREEN_GIVE_UP).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SCREEN_OK 0
#define SCREEN_GIVE_UP 1
#define SCREEN_NOT_UTF8 2
#define SCREEN_FULL 3
#define SCREEN_MAX_COLUMNS 512

#define KIND_CPR 1
#define KIND_DATE 2
#define KIND_NUMBER 4

#define RULE_GTE 1
#define RULE_LTE 2
#define RULE_DATE_IN_PERIOD 3
#define RULE_REQUIRED_IF 4
#define RULE_EQUALS_PREFIX 5
#define RULE_SUM_LTE 6
#define RULE_WIDTH 12

#define MANTISSA_MAX 100000000000000000LL /* 10^17 */
#define SUM_MAX 100000LL

typedef struct {
    int64_t ncols;
    int64_t delimiter, quote, decimal;
    const int32_t *dfa;       /* [states * 256]: the next state; state 0 has no way on */
    const int32_t *dfa_start; /* [ncols] */
    const int32_t *accept;    /* [states]: -1 if not accepting, else the literal's number */
    const uint8_t *stops;     /* [256]: bytes that end an unquoted value */
    const uint8_t *required;  /* [ncols] */
    const int8_t *kinds;      /* [ncols] */
    const int64_t *min_len;   /* [ncols], -1 for none */
    const int64_t *max_len;   /* [ncols], -1 for none */
    const int64_t *bounds;    /* [ncols * 6]: has min, mantissa, exponent, has max, ... */
    const uint64_t *key_seeds; /* [ncols]: 0 if not in the primary key */
    const int64_t *rules;     /* [nrules * RULE_WIDTH] */
    int64_t nrules;
    const uint8_t *triggers;  /* [nrules * trigger_width] */
    int64_t trigger_width;
    const uint8_t *period;    /* [7]: YYYY-MM */
    const uint8_t *ddmmyy;    /* [1000000]: 1 where DDMMYY is a real date */
} screen_t;

typedef struct {
    uint8_t null, exact, plain;
    int32_t literal;
    int64_t date, mantissa, exponent, start, end;
} field_t;

/* The number of characters in buf[start:end], or -1 if it is not valid UTF-8. */
static int64_t utf8_chars(const uint8_t *buf, int64_t i, int64_t end) {
    int64_t chars = 0;
    while (i < end) {
        uint8_t b = buf[i];
        if (b < 0x80) {
            i += 1;
        } else if (b >= 0xC2 && b <= 0xDF) {
            if (i + 1 >= end || (buf[i + 1] & 0xC0) != 0x80) return -1;
            i += 2;
        } else if (b >= 0xE0 && b <= 0xEF) {
            if (i + 2 >= end || (buf[i + 1] & 0xC0) != 0x80 || (buf[i + 2] & 0xC0) != 0x80)
                return -1;
            if (b == 0xE0 && buf[i + 1] < 0xA0) return -1;  /* overlong */
            if (b == 0xED && buf[i + 1] >= 0xA0) return -1; /* a surrogate */
            i += 3;
        } else if (b >= 0xF0 && b <= 0xF4) {
            if (i + 3 >= end || (buf[i + 1] & 0xC0) != 0x80 || (buf[i + 2] & 0xC0) != 0x80 ||
                (buf[i + 3] & 0xC0) != 0x80)
                return -1;
            if ((b == 0xF0 && buf[i + 1] < 0x90) || (b == 0xF4 && buf[i + 1] >= 0x90)) return -1;
            i += 4;
        } else {
            return -1;
        }
        chars += 1;
    }
    return chars;
}

/* -1, 0 or 1 as m1·10^e1 is below, equal to or above m2·10^e2; 2 if they cannot be
 * aligned within 64 bits. */
static int compare(int64_t m1, int64_t e1, int64_t m2, int64_t e2) {
    while (e1 > e2) {
        if (m1 >= MANTISSA_MAX || m1 <= -MANTISSA_MAX) return 2;
        m1 *= 10;
        e1 -= 1;
    }
    while (e2 > e1) {
        if (m2 >= MANTISSA_MAX || m2 <= -MANTISSA_MAX) return 2;
        m2 *= 10;
        e2 -= 1;
    }
    return m1 < m2 ? -1 : (m1 > m2 ? 1 : 0);
}

/* Whether m·10^e is below SUM_MAX in size with at most 12 decimals, so that a handful of such
 * values add up within 64 bits and their float sum is within 1e-9 of the exact one. */
static int small(int64_t m, int64_t e) {
    if (e > 0 || e < -12) return 0;
    int64_t limit = SUM_MAX;
    for (int64_t k = 0; k < -e; k++) limit *= 10;
    return m < limit && m > -limit;
}

static int64_t days_in_month(int64_t year, int64_t month) {
    if (month == 2) {
        int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        return leap ? 29 : 28;
    }
    if (month == 4 || month == 6 || month == 9 || month == 11) return 30;
    return 31;
}

/* A key column's part of a record's key hash: FNV-1a over the value as written between any
 * quotes (a value with a quote in it can only be written quoted and doubled, so equal values
 * hash alike; a missing value hashes as an empty one), seeded per column so that swapped
 * values differ, and finished with splitmix64's last steps so that every bit counts. The
 * parts of a record are combined by XOR. */
static uint64_t key_part(uint64_t seed, const uint8_t *buf, int64_t start, int64_t end) {
    uint64_t h = 0xCBF29CE484222325ULL ^ seed;
    for (int64_t k = start; k < end; k++) h = (h ^ buf[k]) * 0x100000001B3ULL;
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ULL;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBULL;
    return h ^ (h >> 31);
}

/* Whether a record whose every value passed may break a cross-field rule. */
static int breaks_a_rule(const screen_t *s, const uint8_t *buf, const field_t *f) {
    for (int64_t r = 0; r < s->nrules; r++) {
        const int64_t *rule = s->rules + r * RULE_WIDTH;
        int64_t kind = rule[0], a = rule[1];
        if (kind == RULE_GTE || kind == RULE_LTE) {
            int64_t b = rule[2];
            int order;
            if (f[a].null || f[b].null) continue;
            if (rule[3] == KIND_DATE) {
                order = f[a].date < f[b].date ? -1 : (f[a].date > f[b].date ? 1 : 0);
            } else if (f[a].exact && f[b].exact) {
                order = compare(f[a].mantissa, f[a].exponent, f[b].mantissa, f[b].exponent);
            } else {
                return 1;
            }
            if (order == 2 || (kind == RULE_GTE && order < 0) || (kind == RULE_LTE && order > 0))
                return 1;
        } else if (kind == RULE_DATE_IN_PERIOD) {
            if (f[a].null) continue;
            if (!f[a].plain) return 1;
            const uint8_t *v = buf + f[a].start;
            int iso = f[a].end - f[a].start == 10;
            for (int k = 0; iso && k < 10; k++) {
                if (k == 4 || k == 7)
                    iso = v[k] == '-';
                else
                    iso = v[k] >= '0' && v[k] <= '9';
            }
            if (iso) {
                for (int k = 0; k < 7; k++)
                    if (v[k] != s->period[k]) return 1;
            }
        } else if (kind == RULE_REQUIRED_IF) {
            int64_t when = rule[2];
            if (f[a].null && !f[when].null &&
                s->triggers[r * s->trigger_width + f[when].literal])
                return 1;
        } else if (kind == RULE_EQUALS_PREFIX) {
            int64_t of = rule[2];
            if (f[a].null || f[of].null) continue;
            if (!(f[a].plain && f[of].plain)) return 1;
            int64_t wanted = f[of].end - f[of].start;
            if (rule[3] < wanted) wanted = rule[3];
            if (f[a].end - f[a].start != wanted) return 1;
            for (int64_t k = 0; k < wanted; k++)
                if (buf[f[a].start + k] != buf[f[of].start + k]) return 1;
        } else if (kind == RULE_SUM_LTE) {
            if (f[a].null) continue;
            if (!(f[a].exact && small(f[a].mantissa, f[a].exponent))) return 1;
            int64_t total = 0, exponent = 0;
            for (int64_t p = 0; p < rule[2]; p++) {
                const field_t *part = f + rule[4 + p];
                if (part->null) continue;
                int64_t m = part->mantissa, e = part->exponent;
                if (!(part->exact && small(m, e))) return 1;
                for (; e > exponent; e--) m *= 10;
                for (; exponent > e; exponent--) total *= 10;
                total += m;
            }
            if (compare(total, exponent, f[a].mantissa, f[a].exponent) > 0) return 1;
        } else {
            return 1;
        }
    }
    return 0;
}

/* Checks one value's content beyond its automaton; returns 1 to flag the record. */
static int value_is_suspect(const screen_t *s, const uint8_t *buf, int64_t col, field_t *f,
                            int64_t start, int64_t end) {
    int8_t kind = s->kinds[col];
    if (kind & KIND_CPR) { /* ten ASCII digits whose DDMMYY is a real date */
        if (end - start != 10) return 1;
        int64_t number = 0;
        for (int64_t k = start; k < end; k++) {
            int64_t digit = (int64_t)buf[k] - '0';
            if (digit < 0 || digit > 9) return 1;
            if (k < start + 6) number = number * 10 + digit;
        }
        if (!s->ddmmyy[number]) return 1;
        if (number == 290200 && buf[start + 6] <= '3') return 1; /* 29 February 1900/1800 */
    }
    if (kind & KIND_DATE) { /* the format is the automaton's: is it a real date? */
        const uint8_t *v = buf + start;
        int64_t year = (v[0] - '0') * 1000 + (v[1] - '0') * 100 + (v[2] - '0') * 10 + (v[3] - '0');
        int64_t month = (v[5] - '0') * 10 + (v[6] - '0');
        int64_t day = (v[8] - '0') * 10 + (v[9] - '0');
        if (year < 1 || month < 1 || month > 12 || day < 1) return 1;
        if (day > days_in_month(year, month)) return 1;
        f->date = year * 10000 + month * 100 + day;
    }
    if (kind & KIND_NUMBER) { /* the format is the automaton's: within the bounds? */
        int64_t k = start, mantissa = 0, exponent = 0, digits = 0;
        int negative = buf[k] == '-', after = 0;
        if (negative) k++;
        for (; k < end; k++) {
            uint8_t b = buf[k];
            if (b == s->decimal) {
                after = 1;
                continue;
            }
            if (digits > 0 || b != '0') digits++;
            if (digits <= 17) {
                mantissa = mantissa * 10 + (b - '0');
                if (after) exponent--;
            } else if (!after) {
                exponent++;
            }
        }
        const int64_t *bound = s->bounds + col * 6;
        f->exact = digits <= 17;
        if (!f->exact) return bound[0] || bound[3];
        f->mantissa = negative ? -mantissa : mantissa;
        f->exponent = exponent;
        if (bound[0]) {
            int order = compare(f->mantissa, exponent, bound[1], bound[2]);
            if (order < 0 || order == 2) return 1;
        }
        if (bound[3] && compare(f->mantissa, exponent, bound[4], bound[5]) > 0) return 1;
    }
    return 0;
}

/*
 * Screens the whole records in buf[0:n]. Writes each record's key hash to `hashes` and, for
 * each record to look at again, its number and first and last byte (+1) to three int64s of
 * `flagged`. out[0] = records, out[1] = flagged records. Returns a SCREEN_ status.
 */
int screen_scan(const screen_t *s, const uint8_t *buf, int64_t n, uint64_t *hashes,
                int64_t hashes_room, int64_t *flagged, int64_t flagged_room, int64_t *out) {
    field_t fields[SCREEN_MAX_COLUMNS];
    const int64_t ncols = s->ncols;
    const uint8_t quote = (uint8_t)s->quote, delimiter = (uint8_t)s->delimiter;
    const int32_t *dfa = s->dfa;
    const uint8_t *stops = s->stops;
    int64_t records = 0, nflagged = 0, pos = 0;
    int status = SCREEN_OK;
    if (ncols > SCREEN_MAX_COLUMNS) return SCREEN_GIVE_UP;
    while (pos < n) {
        if (records >= hashes_room || nflagged >= flagged_room) {
            status = SCREEN_FULL;
            break;
        }
        int64_t record_start = pos;
        /* A record of only blanks (an empty line, `;;;`) starts with a blank first value:
         * only such records may be one, and they are all looked at again. */
        uint8_t first = buf[pos];
        if (first == quote && pos + 1 < n) first = buf[pos + 1];
        int bad = first <= 0x20 || first >= 0x80 || first == delimiter || first == quote;
        uint64_t key = 0;
        int64_t col = 0;
        for (;;) {
            if (col >= ncols) {
                status = SCREEN_GIVE_UP; /* more fields than the header */
                goto done;
            }
            int32_t state = s->dfa_start[col];
            unsigned seen = 0; /* every byte OR-ed: below 0x80 if all are ASCII */
            int doubled = 0, quoted = 0, ends_record = 0;
            int64_t start, end;
            if (pos < n && buf[pos] == quote) {
                quoted = 1;
                start = ++pos;
                for (;;) {
                    if (pos >= n) {
                        status = SCREEN_GIVE_UP; /* no closing quote */
                        goto done;
                    }
                    uint8_t b = buf[pos];
                    if (b == quote) {
                        if (pos + 1 < n && buf[pos + 1] == quote) {
                            doubled = 1;
                            pos++; /* the value holds one quote: the automaton reads it */
                        } else {
                            break;
                        }
                    }
                    seen |= b;
                    state = dfa[state * 256 + b];
                    pos++;
                }
                end = pos++;
            } else {
                start = pos;
                while (pos < n) {
                    uint8_t b = buf[pos];
                    if (stops[b]) break;
                    seen |= b;
                    state = dfa[state * 256 + b];
                    pos++;
                }
                end = pos;
            }
            if (pos >= n) {
                ends_record = 1;
            } else if (buf[pos] == delimiter) {
                pos++;
            } else if (buf[pos] == '\n') {
                pos++;
                ends_record = 1;
            } else if (buf[pos] == '\r' && pos + 1 < n && buf[pos + 1] == '\n') {
                pos += 2;
                ends_record = 1;
            } else {
                status = SCREEN_GIVE_UP; /* a quote or a lone CR in a value, text after one */
                goto done;
            }
            if (s->key_seeds[col]) key ^= key_part(s->key_seeds[col], buf, start, end);
            field_t *f = fields + col;
            int ascii = seen < 0x80;
            f->null = end == start && !quoted;
            f->start = start;
            f->end = end;
            f->plain = ascii && !doubled;
            f->exact = 0;
            if (end == start) {
                if (quoted || s->required[col]) bad = 1; /* a quoted "" is text, not missing */
            } else if (!bad) {
                int64_t chars = end - start;
                if (!ascii) {
                    chars = utf8_chars(buf, start, end);
                    if (chars < 0) {
                        status = SCREEN_NOT_UTF8;
                        goto done;
                    }
                }
                int32_t literal = s->accept[state];
                f->literal = literal;
                if (doubled || literal < 0) {
                    bad = 1;
                } else if (chars < s->min_len[col] || (s->max_len[col] >= 0 && chars > s->max_len[col])) {
                    bad = 1;
                } else if (s->kinds[col]) {
                    bad = !ascii || value_is_suspect(s, buf, col, f, start, end);
                }
            }
            col++;
            if (ends_record) break;
        }
        if (col < ncols) {
            bad = 1; /* a short row: look again; its missing values are empty keys */
            for (; col < ncols; col++)
                if (s->key_seeds[col]) key ^= key_part(s->key_seeds[col], buf, 0, 0);
        }
        if (!bad && s->nrules) bad = breaks_a_rule(s, buf, fields);
        hashes[records] = key;
        if (bad) {
            flagged[nflagged * 3] = records;
            flagged[nflagged * 3 + 1] = record_start;
            flagged[nflagged * 3 + 2] = pos;
            nflagged++;
        }
        records++;
    }
done:
    out[0] = records;
    out[1] = nflagged;
    return status;
}

/* The first and last byte (+1) of the records numbered `wanted` (ascending, from 0) in a
 * block the screen has read (so its quotes are balanced): a line break outside quotes ends a
 * record. Without a quote in the block, the line breaks are found with memchr. */
void screen_spans(const uint8_t *buf, int64_t n, int64_t quote, const int64_t *wanted,
                  int64_t nwanted, int64_t *spans) {
    int64_t record = 0, w = 0, start = 0, pos = 0;
    int quoted = 0;
    int has_quotes = memchr(buf, (int)quote, (size_t)n) != NULL;
    while (pos < n && w < nwanted) {
        if (!has_quotes) {
            const uint8_t *next = memchr(buf + pos, '\n', (size_t)(n - pos));
            if (next == NULL) break;
            pos = next - buf;
        } else {
            uint8_t b = buf[pos];
            if (b == quote) quoted = !quoted;
            if (b != '\n' || quoted) {
                pos++;
                continue;
            }
        }
        for (; w < nwanted && wanted[w] == record; w++) {
            spans[w * 2] = start;
            spans[w * 2 + 1] = pos + 1;
        }
        record++;
        start = ++pos;
    }
    for (; w < nwanted && wanted[w] == record; w++) {
        spans[w * 2] = start;
        spans[w * 2 + 1] = n;
    }
}

/* Some records' bytes, one after another, each ending with a line break (the last record of
 * a block may have none). `flagged` holds rows of record, first byte, last byte + 1, as
 * screen_scan writes them. Returns the bytes written to `out`, which has room for every
 * record's bytes and a line break each. */
int64_t screen_gather(const uint8_t *buf, const int64_t *flagged, int64_t nflagged,
                      uint8_t *out) {
    int64_t length = 0;
    for (int64_t i = 0; i < nflagged; i++) {
        int64_t start = flagged[i * 3 + 1], end = flagged[i * 3 + 2];
        memcpy(out + length, buf + start, (size_t)(end - start));
        length += end - start;
        if (end == start || buf[end - 1] != '\n') out[length++] = '\n';
    }
    return length;
}
