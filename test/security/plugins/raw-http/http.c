// An attack plugin without a JS engine that presses on the host's wasi:http from the guest's side
// (built by test/security/http-pressure.test.ts with buildCComponent). search(query, _, cursor):
//   hoard          GETs the URL in the cursor again and again, keeping every response body unread
//   post-hoard     POSTs 32 MiB bodies to the URL in the cursor again and again, never waiting
//   drop-flood     starts <cursor> GETs of http://raw-http.awasm.test/small, dropping each future at once
//   huge-timeouts  GETs the URL in the cursor with every request timeout at 2^64-1 ns, reads the
//                  body, then polls a clock wait of 2^64-1 ns beside one of 1 ms
// list() answers "healthy".

#include <stdlib.h>
#include <string.h>

#include "source.h"

typedef exports_awasm_source_source_api_source_error_t source_error_t;
typedef exports_awasm_source_source_api_media_t media_t;

#define POST_BODY_BYTES (32u * 1024u * 1024u)

static size_t count_of(const source_string_t *s) {
  size_t n = 0;
  for (size_t i = 0; s && i < s->len; i++) n = n * 10 + (size_t)(s->ptr[i] - '0');
  return n;
}

static bool is(const source_string_t *s, const char *text) {
  return s->len == strlen(text) && memcmp(s->ptr, text, s->len) == 0;
}

static void answer(exports_awasm_source_source_api_media_page_t *ret, const char *title) {
  media_t *m = calloc(1, sizeof(media_t));
  if (!m) abort();
  source_string_dup(&m->id, "result");
  source_string_dup(&m->title, title);
  m->kind = AWASM_SOURCE_TYPES_MEDIA_KIND_BOOK;
  ret->items.ptr = m;
  ret->items.len = 1;
  ret->next_cursor.is_some = false;
}

/** A request for `url` (http://authority/path). */
static wasi_http_types_own_outgoing_request_t new_request(const source_string_t *url, uint8_t method) {
  const char *s = (const char *)url->ptr;
  size_t n = url->len, at = 7, slash = 7;
  while (slash < n && s[slash] != '/') slash++;
  wasi_http_types_own_outgoing_request_t request =
      wasi_http_types_constructor_outgoing_request(wasi_http_types_constructor_fields());
  wasi_http_types_borrow_outgoing_request_t r = wasi_http_types_borrow_outgoing_request(request);
  wasi_http_types_scheme_t scheme = {.tag = WASI_HTTP_TYPES_SCHEME_HTTP};
  wasi_http_types_method_t verb = {.tag = method};
  source_string_t authority = {(uint8_t *)s + at, slash - at};
  source_string_t path =
      slash < n ? (source_string_t){(uint8_t *)s + slash, n - slash} : (source_string_t){(uint8_t *)"/", 1};
  wasi_http_types_method_outgoing_request_set_method(r, &verb);
  wasi_http_types_method_outgoing_request_set_scheme(r, &scheme);
  wasi_http_types_method_outgoing_request_set_authority(r, &authority);
  wasi_http_types_method_outgoing_request_set_path_with_query(r, &path);
  return request;
}

static wasi_http_outgoing_handler_own_future_incoming_response_t send(wasi_http_types_own_outgoing_request_t request,
                                                                      wasi_http_types_own_request_options_t *options) {
  wasi_http_outgoing_handler_own_future_incoming_response_t future;
  wasi_http_outgoing_handler_error_code_t code;
  if (!wasi_http_outgoing_handler_handle(request, options, &future, &code)) abort();
  return future;
}

/** Waits for the future and takes the response (traps if the request failed). */
static wasi_http_types_own_incoming_response_t take_response(wasi_http_types_own_future_incoming_response_t future) {
  wasi_http_types_borrow_future_incoming_response_t f = wasi_http_types_borrow_future_incoming_response(future);
  wasi_http_types_own_pollable_t ready = wasi_http_types_method_future_incoming_response_subscribe(f);
  wasi_io_poll_method_pollable_block(wasi_io_poll_borrow_pollable(ready));
  wasi_io_poll_pollable_drop_own(ready);
  wasi_http_types_result_result_own_incoming_response_error_code_void_t outcome;
  if (!wasi_http_types_method_future_incoming_response_get(f, &outcome)) abort();
  if (outcome.is_err || outcome.val.ok.is_err) abort();
  return outcome.val.ok.val.ok;
}

static wasi_http_types_own_input_stream_t body_stream(wasi_http_types_own_incoming_response_t response) {
  wasi_http_types_own_incoming_body_t body;
  wasi_http_types_own_input_stream_t stream;
  if (!wasi_http_types_method_incoming_response_consume(wasi_http_types_borrow_incoming_response(response), &body))
    abort();
  if (!wasi_http_types_method_incoming_body_stream(wasi_http_types_borrow_incoming_body(body), &stream)) abort();
  return stream;
}

bool exports_awasm_source_source_api_search(source_string_t *query,
                                            exports_awasm_source_source_api_list_filter_value_t *filters,
                                            source_string_t *maybe_cursor,
                                            exports_awasm_source_source_api_media_page_t *ret, source_error_t *err) {
  (void)filters;
  (void)err;
  if (is(query, "hoard") && maybe_cursor) {
    for (;;) body_stream(take_response(send(new_request(maybe_cursor, WASI_HTTP_TYPES_METHOD_GET), NULL)));
  } else if (is(query, "post-hoard") && maybe_cursor) {
    static uint8_t filler[65536];
    for (;;) {
      wasi_http_types_own_outgoing_request_t request = new_request(maybe_cursor, WASI_HTTP_TYPES_METHOD_POST);
      wasi_http_types_own_outgoing_body_t body;
      if (!wasi_http_types_method_outgoing_request_body(wasi_http_types_borrow_outgoing_request(request), &body))
        abort();
      send(request, NULL);  // the future is kept, never waited for
      wasi_http_types_own_output_stream_t stream;
      if (!wasi_http_types_method_outgoing_body_write(wasi_http_types_borrow_outgoing_body(body), &stream)) abort();
      wasi_io_streams_borrow_output_stream_t out = wasi_io_streams_borrow_output_stream(stream);
      for (size_t written = 0; written < POST_BODY_BYTES;) {
        uint64_t room;
        wasi_io_streams_stream_error_t stream_error;
        if (!wasi_io_streams_method_output_stream_check_write(out, &room, &stream_error) || room == 0) abort();
        size_t take = room < sizeof filler ? (size_t)room : sizeof filler;
        if (take > POST_BODY_BYTES - written) take = POST_BODY_BYTES - written;
        source_list_u8_t chunk = {filler, take};
        if (!wasi_io_streams_method_output_stream_write(out, &chunk, &stream_error)) abort();
        written += take;
      }
      wasi_io_streams_output_stream_drop_own(stream);
      wasi_http_types_error_code_t code;
      if (!wasi_http_types_static_outgoing_body_finish(body, NULL, &code)) abort();
    }
  } else if (is(query, "drop-flood")) {
    size_t n = count_of(maybe_cursor);
    source_string_t url = {(uint8_t *)"http://raw-http.awasm.test/small", 32};
    for (size_t i = 0; i < n; i++) {
      wasi_http_types_future_incoming_response_drop_own(send(new_request(&url, WASI_HTTP_TYPES_METHOD_GET), NULL));
    }
    answer(ret, "flooded");
  } else if (is(query, "huge-timeouts") && maybe_cursor) {
    wasi_http_types_own_request_options_t options = wasi_http_types_constructor_request_options();
    wasi_http_types_borrow_request_options_t o = wasi_http_types_borrow_request_options(options);
    wasi_http_types_duration_t forever = UINT64_MAX;
    if (!wasi_http_types_method_request_options_set_connect_timeout(o, &forever)) abort();
    if (!wasi_http_types_method_request_options_set_first_byte_timeout(o, &forever)) abort();
    if (!wasi_http_types_method_request_options_set_between_bytes_timeout(o, &forever)) abort();
    wasi_http_types_own_input_stream_t stream =
        body_stream(take_response(send(new_request(maybe_cursor, WASI_HTTP_TYPES_METHOD_GET), &options)));
    size_t got = 0;
    for (;;) {
      source_list_u8_t chunk;
      wasi_io_streams_stream_error_t stream_error;
      if (!wasi_io_streams_method_input_stream_blocking_read(wasi_io_streams_borrow_input_stream(stream), 65536,
                                                             &chunk, &stream_error))
        break;
      got += chunk.len;
      source_list_u8_free(&chunk);
    }
    wasi_io_poll_own_pollable_t waits[2] = {wasi_clocks_monotonic_clock_subscribe_duration(UINT64_MAX),
                                            wasi_clocks_monotonic_clock_subscribe_duration(1000000)};
    wasi_io_poll_borrow_pollable_t list[2] = {wasi_io_poll_borrow_pollable(waits[0]),
                                              wasi_io_poll_borrow_pollable(waits[1])};
    wasi_io_poll_list_borrow_pollable_t in = {list, 2};
    source_list_u32_t ready;
    wasi_io_poll_poll(&in, &ready);
    answer(ret, got > 0 && ready.len == 1 && ready.ptr[0] == 1 ? "timeouts kept" : "timeouts broke");
  } else {
    answer(ret, "unknown attack");
  }
  return true;
}

bool exports_awasm_source_source_api_list(exports_awasm_source_source_api_listing_t listing,
                                          source_string_t *maybe_cursor,
                                          exports_awasm_source_source_api_media_page_t *ret, source_error_t *err) {
  (void)listing;
  (void)maybe_cursor;
  (void)err;
  answer(ret, "healthy");
  return true;
}

bool exports_awasm_source_source_api_get_media(source_string_t *id, media_t *ret, source_error_t *err) {
  (void)id;
  (void)ret;
  err->tag = AWASM_SOURCE_TYPES_SOURCE_ERROR_UNSUPPORTED;
  return false;
}

bool exports_awasm_source_source_api_list_units(source_string_t *media_id, source_string_t *maybe_cursor,
                                                exports_awasm_source_source_api_unit_page_t *ret,
                                                source_error_t *err) {
  (void)media_id;
  (void)maybe_cursor;
  (void)ret;
  err->tag = AWASM_SOURCE_TYPES_SOURCE_ERROR_UNSUPPORTED;
  return false;
}

bool exports_awasm_source_source_api_get_assets(source_string_t *unit_id,
                                                exports_awasm_source_source_api_list_asset_t *ret,
                                                source_error_t *err) {
  (void)unit_id;
  (void)ret;
  err->tag = AWASM_SOURCE_TYPES_SOURCE_ERROR_UNSUPPORTED;
  return false;
}

bool exports_awasm_source_source_api_filters(exports_awasm_source_source_api_list_filter_t *ret,
                                             source_error_t *err) {
  (void)ret;
  err->tag = AWASM_SOURCE_TYPES_SOURCE_ERROR_UNSUPPORTED;
  return false;
}
