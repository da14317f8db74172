// The benchmark's source plugin again, in C (wit-bindgen c bindings, wasi-libc, no JS engine): the
// same calls as ../bench/index.js, so the runner's own cost can be told apart from a guest's.
// `search(base)` GETs <base>/item/0 .. <base>/item/4 one after another through wasi:http and reads
// each body's "id" and "title"; `list` does no I/O; `get-media("count")` returns how many calls this
// instance has served, `get-media("trap")` traps.

#include <stdlib.h>
#include <string.h>

#include "source.h"

typedef exports_awasm_source_source_api_source_error_t source_error_t;
typedef exports_awasm_source_source_api_media_t media_t;

/** calls served by this instance */
static unsigned served = 0;

static void string_copy(source_string_t *out, const char *s, size_t len) {
  source_string_dup_n(out, s, len);
}

/** wasi:http error-code case names, in the WIT's order (the variant's tag indexes this). */
static const char *const error_code_names[] = {
    "DNS-timeout", "DNS-error", "destination-not-found", "destination-unavailable", "destination-IP-prohibited",
    "destination-IP-unroutable", "connection-refused", "connection-terminated", "connection-timeout",
    "connection-read-timeout", "connection-write-timeout", "connection-limit-reached", "TLS-protocol-error",
    "TLS-certificate-error", "TLS-alert-received", "HTTP-request-denied", "HTTP-request-length-required",
    "HTTP-request-body-size", "HTTP-request-method-invalid", "HTTP-request-URI-invalid", "HTTP-request-URI-too-long",
    "HTTP-request-header-section-size", "HTTP-request-header-size", "HTTP-request-trailer-section-size",
    "HTTP-request-trailer-size", "HTTP-response-incomplete", "HTTP-response-header-section-size",
    "HTTP-response-header-size", "HTTP-response-body-size", "HTTP-response-trailer-section-size",
    "HTTP-response-trailer-size", "HTTP-response-transfer-coding", "HTTP-response-content-coding",
    "HTTP-response-timeout", "HTTP-upgrade-failed", "HTTP-protocol-error", "loop-detected", "configuration-error",
    "internal-error",
};

static bool fail_network(source_error_t *err, const char *message) {
  err->tag = AWASM_SOURCE_TYPES_SOURCE_ERROR_NETWORK;
  string_copy(&err->val.network, message, strlen(message));
  return false;
}

/** A network error naming the wasi:http error code the host answered with. */
static bool fail_http(source_error_t *err, wasi_http_types_error_code_t *code) {
  static const char prefix[] = "the request failed: ";
  const char *name = code->tag < sizeof error_code_names / sizeof *error_code_names ? error_code_names[code->tag] : "?";
  size_t prefix_len = sizeof prefix - 1, name_len = strlen(name);
  char *message = malloc(prefix_len + name_len);
  if (!message) abort();
  memcpy(message, prefix, prefix_len);
  memcpy(message + prefix_len, name, name_len);
  err->tag = AWASM_SOURCE_TYPES_SOURCE_ERROR_NETWORK;
  err->val.network = (source_string_t){(uint8_t *)message, prefix_len + name_len};
  wasi_http_types_error_code_free(code);
  return false;
}

static bool fail_parse(source_error_t *err, const char *message) {
  err->tag = AWASM_SOURCE_TYPES_SOURCE_ERROR_PARSE;
  string_copy(&err->val.parse, message, strlen(message));
  return false;
}

static void media_init(media_t *m, const char *id, size_t id_len, const char *title, size_t title_len) {
  memset(m, 0, sizeof *m);
  string_copy(&m->id, id, id_len);
  string_copy(&m->title, title, title_len);
  m->kind = AWASM_SOURCE_TYPES_MEDIA_KIND_BOOK;
  m->status = AWASM_SOURCE_TYPES_MEDIA_STATUS_UNKNOWN;
}

/** A URL split into what wasi:http wants. */
typedef struct {
  bool https;
  const char *authority;
  size_t authority_len;
  const char *path;
  size_t path_len;
} base_url_t;

static bool parse_base(const source_string_t *url, base_url_t *out) {
  const char *s = (const char *)url->ptr;
  size_t n = url->len;
  size_t at;
  if (n > 7 && memcmp(s, "http://", 7) == 0) {
    out->https = false;
    at = 7;
  } else if (n > 8 && memcmp(s, "https://", 8) == 0) {
    out->https = true;
    at = 8;
  } else {
    return false;
  }
  size_t slash = at;
  while (slash < n && s[slash] != '/') slash++;
  out->authority = s + at;
  out->authority_len = slash - at;
  out->path = s + slash;
  out->path_len = n - slash;
  return out->authority_len > 0;
}

/** Body bytes read so far. */
typedef struct {
  uint8_t *data;
  size_t len;
  size_t cap;
} buffer_t;

static void buffer_append(buffer_t *b, const uint8_t *data, size_t len) {
  if (b->len + len > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 4096;
    while (cap < b->len + len) cap *= 2;
    b->data = realloc(b->data, cap);
    if (!b->data) abort();
    b->cap = cap;
  }
  memcpy(b->data + b->len, data, len);
  b->len += len;
}

/** GET <base><path>, the whole body into `body`; false with `err` set on failure. */
static bool http_get(const base_url_t *base, const char *path, buffer_t *body, source_error_t *err) {
  wasi_http_types_own_outgoing_request_t request =
      wasi_http_types_constructor_outgoing_request(wasi_http_types_constructor_fields());
  wasi_http_types_borrow_outgoing_request_t borrowed = wasi_http_types_borrow_outgoing_request(request);

  wasi_http_types_method_t method = {.tag = WASI_HTTP_TYPES_METHOD_GET};
  wasi_http_types_scheme_t scheme = {.tag = base->https ? WASI_HTTP_TYPES_SCHEME_HTTPS : WASI_HTTP_TYPES_SCHEME_HTTP};
  source_string_t authority = {(uint8_t *)base->authority, base->authority_len};
  size_t path_len = strlen(path);
  char *full = malloc(base->path_len + path_len + 1);
  if (!full) abort();
  memcpy(full, base->path, base->path_len);
  memcpy(full + base->path_len, path, path_len + 1);
  source_string_t path_with_query = {(uint8_t *)full, base->path_len + path_len};
  wasi_http_types_method_outgoing_request_set_method(borrowed, &method);
  wasi_http_types_method_outgoing_request_set_scheme(borrowed, &scheme);
  wasi_http_types_method_outgoing_request_set_authority(borrowed, &authority);
  wasi_http_types_method_outgoing_request_set_path_with_query(borrowed, &path_with_query);
  free(full);

  wasi_http_outgoing_handler_own_future_incoming_response_t future;
  wasi_http_outgoing_handler_error_code_t code;
  if (!wasi_http_outgoing_handler_handle(request, NULL, &future, &code)) return fail_http(err, &code);
  wasi_http_types_borrow_future_incoming_response_t borrowed_future =
      wasi_http_types_borrow_future_incoming_response(future);
  wasi_http_types_own_pollable_t ready = wasi_http_types_method_future_incoming_response_subscribe(borrowed_future);
  wasi_io_poll_method_pollable_block(wasi_io_poll_borrow_pollable(ready));
  wasi_io_poll_pollable_drop_own(ready);

  wasi_http_types_option_result_result_own_incoming_response_error_code_void_t outcome;
  bool got = wasi_http_types_method_future_incoming_response_get(borrowed_future, &outcome.val);
  wasi_http_types_future_incoming_response_drop_own(future);
  if (!got || outcome.val.is_err) return fail_network(err, "the response was already taken");
  if (outcome.val.val.ok.is_err) return fail_http(err, &outcome.val.val.ok.val.err);
  wasi_http_types_own_incoming_response_t response = outcome.val.val.ok.val.ok;
  wasi_http_types_borrow_incoming_response_t borrowed_response = wasi_http_types_borrow_incoming_response(response);
  if (wasi_http_types_method_incoming_response_status(borrowed_response) != 200) {
    wasi_http_types_incoming_response_drop_own(response);
    return fail_network(err, "the upstream did not answer 200");
  }
  wasi_http_types_own_incoming_body_t incoming;
  if (!wasi_http_types_method_incoming_response_consume(borrowed_response, &incoming)) {
    wasi_http_types_incoming_response_drop_own(response);
    return fail_network(err, "the response body was already taken");
  }
  wasi_http_types_own_input_stream_t stream;
  if (!wasi_http_types_method_incoming_body_stream(wasi_http_types_borrow_incoming_body(incoming), &stream)) {
    wasi_http_types_incoming_body_drop_own(incoming);
    wasi_http_types_incoming_response_drop_own(response);
    return fail_network(err, "the body stream was already taken");
  }
  bool ok = true;
  for (;;) {
    source_list_u8_t chunk;
    wasi_io_streams_stream_error_t stream_error;
    if (!wasi_io_streams_method_input_stream_blocking_read(wasi_io_streams_borrow_input_stream(stream), 65536, &chunk,
                                                          &stream_error)) {
      if (stream_error.tag != WASI_IO_STREAMS_STREAM_ERROR_CLOSED) {
        wasi_io_streams_stream_error_free(&stream_error);
        ok = fail_network(err, "reading the body failed");
      }
      break;
    }
    buffer_append(body, chunk.ptr, chunk.len);
    source_list_u8_free(&chunk);
  }
  wasi_io_streams_input_stream_drop_own(stream);
  wasi_http_types_incoming_body_drop_own(incoming);
  wasi_http_types_incoming_response_drop_own(response);
  return ok;
}

/** The value of "key": in a flat JSON object: a number's digits or a plain string's contents. */
static bool json_field(const buffer_t *body, const char *key, const char **value, size_t *len) {
  size_t key_len = strlen(key);
  for (size_t i = 0; i + key_len + 3 <= body->len; i++) {
    const char *p = (const char *)body->data + i;
    if (p[0] != '"' || memcmp(p + 1, key, key_len) != 0 || p[key_len + 1] != '"' || p[key_len + 2] != ':') continue;
    const char *v = p + key_len + 3;
    const char *end = (const char *)body->data + body->len;
    if (v < end && *v == '"') {
      const char *close = ++v;
      while (close < end && *close != '"' && *close != '\\') close++;
      if (close >= end || *close != '"') return false;
      *value = v;
      *len = (size_t)(close - v);
      return true;
    }
    const char *stop = v;
    while (stop < end && ((*stop >= '0' && *stop <= '9') || *stop == '-')) stop++;
    if (stop == v) return false;
    *value = v;
    *len = (size_t)(stop - v);
    return true;
  }
  return false;
}

bool exports_awasm_source_source_api_search(source_string_t *query,
                                            exports_awasm_source_source_api_list_filter_value_t *filters,
                                            source_string_t *maybe_cursor,
                                            exports_awasm_source_source_api_media_page_t *ret, source_error_t *err) {
  exports_awasm_source_source_api_list_filter_value_free(filters);
  if (maybe_cursor) source_string_free(maybe_cursor);
  base_url_t base;
  if (!parse_base(query, &base)) {
    source_string_free(query);
    return fail_network(err, "the query must be an http(s) base URL");
  }
  media_t *items = calloc(5, sizeof(media_t));
  if (!items) abort();
  size_t count = 0;
  bool ok = true;
  for (int i = 0; i < 5 && ok; i++) {
    char path[16] = "/item/0";
    path[6] = (char)('0' + i);
    buffer_t body = {0};
    ok = http_get(&base, path, &body, err);
    if (ok) {
      const char *id, *title;
      size_t id_len, title_len;
      if (json_field(&body, "id", &id, &id_len) && json_field(&body, "title", &title, &title_len)) {
        media_init(&items[count++], id, id_len, title, title_len);
      } else {
        ok = fail_parse(err, "the item has no id or title");
      }
    }
    free(body.data);
  }
  source_string_free(query);
  if (!ok) {
    for (size_t i = 0; i < count; i++) exports_awasm_source_source_api_media_free(&items[i]);
    free(items);
    return false;
  }
  ret->items.ptr = items;
  ret->items.len = count;
  ret->next_cursor.is_some = false;
  return true;
}

bool exports_awasm_source_source_api_list(exports_awasm_source_source_api_listing_t listing,
                                          source_string_t *maybe_cursor,
                                          exports_awasm_source_source_api_media_page_t *ret, source_error_t *err) {
  (void)err;
  if (maybe_cursor) source_string_free(maybe_cursor);
  served++;
  media_t *item = malloc(sizeof(media_t));
  if (!item) abort();
  const char *title = listing == AWASM_SOURCE_TYPES_LISTING_POPULAR ? "listing popular" : "listing latest";
  media_init(item, "static", 6, title, strlen(title));
  ret->items.ptr = item;
  ret->items.len = 1;
  ret->next_cursor.is_some = false;
  return true;
}

bool exports_awasm_source_source_api_get_media(source_string_t *id, media_t *ret, source_error_t *err) {
  (void)err;
  served++;
  if (id->len == 4 && memcmp(id->ptr, "trap", 4) == 0) __builtin_trap();
  if (id->len == 5 && memcmp(id->ptr, "count", 5) == 0) {
    char digits[12];
    size_t n = 0;
    unsigned v = served;
    do {
      digits[sizeof digits - 1 - n++] = (char)('0' + v % 10);
      v /= 10;
    } while (v);
    media_init(ret, "count", 5, digits + sizeof digits - n, n);
  } else {
    media_init(ret, (const char *)id->ptr, id->len, (const char *)id->ptr, id->len);
  }
  source_string_free(id);
  return true;
}

bool exports_awasm_source_source_api_list_units(source_string_t *media_id, source_string_t *maybe_cursor,
                                                exports_awasm_source_source_api_unit_page_t *ret,
                                                source_error_t *err) {
  (void)err;
  source_string_free(media_id);
  if (maybe_cursor) source_string_free(maybe_cursor);
  memset(ret, 0, sizeof *ret);
  return true;
}

bool exports_awasm_source_source_api_get_assets(source_string_t *unit_id,
                                                exports_awasm_source_source_api_list_asset_t *ret,
                                                source_error_t *err) {
  (void)err;
  source_string_free(unit_id);
  memset(ret, 0, sizeof *ret);
  return true;
}

bool exports_awasm_source_source_api_filters(exports_awasm_source_source_api_list_filter_t *ret,
                                             source_error_t *err) {
  (void)err;
  memset(ret, 0, sizeof *ret);
  return true;
}
