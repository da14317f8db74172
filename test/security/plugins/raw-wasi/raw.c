// Attack plugin in C: it calls the host's wasi:http resources directly, in orders a JS engine never
// would. `search(attack, _, url)` runs the attack its query names and, when the attack does not
// trap, returns one media whose title says what the host answered; `list` is a healthy call.
//   use-after-drop   drops a fields resource, then calls a method on it
//   forged-handle    calls a method on a handle number the host never issued
//   double-get       takes a response from its future twice
//   double-consume   takes a response's body twice
//   orphan-pollable  drops a future while its pollable lives, then blocks on the pollable
//   handle-flood     creates fields resources without ever dropping them
//   leak-handles     creates <cursor> fields resources, keeps them, and answers
//   fields-flood     appends to one fields resource without end
//   hoard            GETs the URL again and again, keeping every response body unread
//   leave-unread     GETs http://raw.awasm.test/big <cursor> times, keeps the bodies unread, and answers
//   body-hoard       fills request body after request body and never sends them
//   poll-list        polls a list of <cursor> pollables (one pollable, borrowed over and over)
//   fields-list      builds a fields resource from a list of <cursor> entries
//   alias-list       the same, every entry's name the same 4,000,000-byte string (lifted once per entry)
//   long-log         logs one string of <cursor> bytes
//   huge-result      returns <cursor> media, each titled with 1,000 bytes
//   empty-strings    returns 10 media, each with 4 lists of <cursor> empty strings
//   huge-error       fails with an internal error whose text is <cursor> bytes
//   empty-logs       logs <cursor> empty messages, and answers
//   body-after-drop  reads a body stream after its response and body were dropped

#include <stdlib.h>
#include <string.h>

#include "source.h"

typedef exports_awasm_source_source_api_source_error_t source_error_t;
typedef exports_awasm_source_source_api_media_t media_t;

/** The cursor as a count (decimal digits). */
static size_t count_of(const source_string_t *s) {
  size_t n = 0;
  for (size_t i = 0; s && i < s->len; i++) n = n * 10 + (size_t)(s->ptr[i] - '0');
  return n;
}

static bool is(const source_string_t *s, const char *text) {
  return s->len == strlen(text) && memcmp(s->ptr, text, s->len) == 0;
}

/** A page of one media titled `title`. */
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

/** Starts a GET of `url` (http://authority/path); the future of its response. */
static wasi_http_outgoing_handler_own_future_incoming_response_t start_get(const source_string_t *url) {
  const char *s = (const char *)url->ptr;
  size_t n = url->len, at = 7, slash = 7;
  while (slash < n && s[slash] != '/') slash++;
  wasi_http_types_own_outgoing_request_t request =
      wasi_http_types_constructor_outgoing_request(wasi_http_types_constructor_fields());
  wasi_http_types_borrow_outgoing_request_t r = wasi_http_types_borrow_outgoing_request(request);
  wasi_http_types_scheme_t scheme = {.tag = WASI_HTTP_TYPES_SCHEME_HTTP};
  source_string_t authority = {(uint8_t *)s + at, slash - at};
  source_string_t path = slash < n ? (source_string_t){(uint8_t *)s + slash, n - slash} : (source_string_t){(uint8_t *)"/", 1};
  wasi_http_types_method_outgoing_request_set_scheme(r, &scheme);
  wasi_http_types_method_outgoing_request_set_authority(r, &authority);
  wasi_http_types_method_outgoing_request_set_path_with_query(r, &path);
  wasi_http_outgoing_handler_own_future_incoming_response_t future;
  wasi_http_outgoing_handler_error_code_t code;
  if (!wasi_http_outgoing_handler_handle(request, NULL, &future, &code)) abort();
  return future;
}

/** Waits for the future and takes the response (traps if the request failed). */
static wasi_http_types_own_incoming_response_t take_response(wasi_http_types_borrow_future_incoming_response_t future) {
  wasi_http_types_own_pollable_t ready = wasi_http_types_method_future_incoming_response_subscribe(future);
  wasi_io_poll_method_pollable_block(wasi_io_poll_borrow_pollable(ready));
  wasi_io_poll_pollable_drop_own(ready);
  wasi_http_types_result_result_own_incoming_response_error_code_void_t outcome;
  if (!wasi_http_types_method_future_incoming_response_get(future, &outcome)) abort();
  if (outcome.is_err || outcome.val.ok.is_err) abort();
  return outcome.val.ok.val.ok;
}

/** GETs `url` and takes the response's body stream (traps if anything fails). */
static void open_body(const source_string_t *url, wasi_http_types_own_incoming_response_t *response,
                      wasi_http_types_own_incoming_body_t *body, wasi_http_types_own_input_stream_t *stream) {
  wasi_http_types_own_future_incoming_response_t future = start_get(url);
  *response = take_response(wasi_http_types_borrow_future_incoming_response(future));
  if (!wasi_http_types_method_incoming_response_consume(wasi_http_types_borrow_incoming_response(*response), body)) abort();
  if (!wasi_http_types_method_incoming_body_stream(wasi_http_types_borrow_incoming_body(*body), stream)) abort();
}

bool exports_awasm_source_source_api_search(source_string_t *query,
                                            exports_awasm_source_source_api_list_filter_value_t *filters,
                                            source_string_t *maybe_cursor,
                                            exports_awasm_source_source_api_media_page_t *ret, source_error_t *err) {
  (void)filters;
  if (is(query, "use-after-drop")) {
    wasi_http_types_own_fields_t fields = wasi_http_types_constructor_fields();
    wasi_http_types_borrow_fields_t borrowed = wasi_http_types_borrow_fields(fields);
    wasi_http_types_fields_drop_own(fields);
    wasi_http_types_list_field_value_t values;
    source_string_t name = {(uint8_t *)"accept", 6};
    wasi_http_types_method_fields_get(borrowed, &name, &values);
    answer(ret, "the host answered a dropped handle");
  } else if (is(query, "forged-handle")) {
    wasi_http_types_list_field_value_t values;
    source_string_t name = {(uint8_t *)"accept", 6};
    wasi_http_types_method_fields_get((wasi_http_types_borrow_fields_t){.__handle = 0x5eed}, &name, &values);
    answer(ret, "the host answered a forged handle");
  } else if (is(query, "double-get") && maybe_cursor) {
    wasi_http_types_own_future_incoming_response_t future = start_get(maybe_cursor);
    wasi_http_types_borrow_future_incoming_response_t f = wasi_http_types_borrow_future_incoming_response(future);
    wasi_http_types_incoming_response_drop_own(take_response(f));
    wasi_http_types_result_result_own_incoming_response_error_code_void_t again;
    bool some = wasi_http_types_method_future_incoming_response_get(f, &again);
    wasi_http_types_future_incoming_response_drop_own(future);
    answer(ret, !some ? "second get: none" : again.is_err ? "second get: already taken" : "second get: a response");
  } else if (is(query, "double-consume") && maybe_cursor) {
    wasi_http_types_own_future_incoming_response_t future = start_get(maybe_cursor);
    wasi_http_types_own_incoming_response_t response =
        take_response(wasi_http_types_borrow_future_incoming_response(future));
    wasi_http_types_borrow_incoming_response_t r = wasi_http_types_borrow_incoming_response(response);
    wasi_http_types_own_incoming_body_t first, second;
    bool got_first = wasi_http_types_method_incoming_response_consume(r, &first);
    bool got_second = wasi_http_types_method_incoming_response_consume(r, &second);
    answer(ret, got_first && !got_second ? "second consume refused" : "second consume allowed");
  } else if (is(query, "orphan-pollable") && maybe_cursor) {
    wasi_http_types_own_future_incoming_response_t future = start_get(maybe_cursor);
    wasi_http_types_own_pollable_t ready =
        wasi_http_types_method_future_incoming_response_subscribe(wasi_http_types_borrow_future_incoming_response(future));
    wasi_http_types_future_incoming_response_drop_own(future);
    wasi_io_poll_method_pollable_block(wasi_io_poll_borrow_pollable(ready));
    answer(ret, "blocked on an orphan pollable and came back");
  } else if (is(query, "leak-handles")) {
    size_t n = count_of(maybe_cursor);
    for (size_t i = 0; i < n; i++) wasi_http_types_constructor_fields();
    answer(ret, "leaked");
  } else if (is(query, "handle-flood")) {
    for (;;) wasi_http_types_constructor_fields();
  } else if (is(query, "fields-flood")) {
    wasi_http_types_own_fields_t fields = wasi_http_types_constructor_fields();
    static uint8_t value[1024];
    memset(value, 'v', sizeof value);
    for (unsigned i = 0;; i++) {
      char name[16] = "x-flood-";
      for (unsigned v = i, at = 8; at < 15; at++, v /= 10) name[at] = (char)('0' + v % 10);
      source_string_t key = {(uint8_t *)name, 15};
      wasi_http_types_field_value_t val = {value, sizeof value};
      wasi_http_types_header_error_t header_error;
      if (!wasi_http_types_method_fields_append(wasi_http_types_borrow_fields(fields), &key, &val, &header_error)) {
        answer(ret, "append refused");
        break;
      }
    }
  } else if (is(query, "hoard") && maybe_cursor) {
    for (;;) {
      wasi_http_types_own_incoming_response_t response;
      wasi_http_types_own_incoming_body_t body;
      wasi_http_types_own_input_stream_t stream;
      open_body(maybe_cursor, &response, &body, &stream);
    }
  } else if (is(query, "leave-unread")) {
    size_t n = count_of(maybe_cursor);
    source_string_t url = {(uint8_t *)"http://raw.awasm.test/big", 25};
    for (size_t i = 0; i < n; i++) {
      wasi_http_types_own_incoming_response_t response;
      wasi_http_types_own_incoming_body_t body;
      wasi_http_types_own_input_stream_t stream;
      open_body(&url, &response, &body, &stream);
    }
    answer(ret, "left unread");
  } else if (is(query, "body-hoard")) {
    static uint8_t filler[65536];
    for (;;) {
      wasi_http_types_own_outgoing_request_t request =
          wasi_http_types_constructor_outgoing_request(wasi_http_types_constructor_fields());
      wasi_http_types_own_outgoing_body_t body;
      if (!wasi_http_types_method_outgoing_request_body(wasi_http_types_borrow_outgoing_request(request), &body)) abort();
      wasi_http_types_own_output_stream_t stream;
      if (!wasi_http_types_method_outgoing_body_write(wasi_http_types_borrow_outgoing_body(body), &stream)) abort();
      wasi_io_streams_borrow_output_stream_t out = wasi_io_streams_borrow_output_stream(stream);
      for (;;) {
        uint64_t room;
        wasi_io_streams_stream_error_t stream_error;
        if (!wasi_io_streams_method_output_stream_check_write(out, &room, &stream_error) || room == 0) break;
        source_list_u8_t chunk = {filler, room < sizeof filler ? (size_t)room : sizeof filler};
        if (!wasi_io_streams_method_output_stream_write(out, &chunk, &stream_error)) break;
      }
    }
  } else if (is(query, "poll-list")) {
    size_t n = count_of(maybe_cursor);
    wasi_io_poll_own_pollable_t ready = wasi_clocks_monotonic_clock_subscribe_duration(0);
    wasi_io_poll_borrow_pollable_t *list = malloc(n * sizeof *list);
    if (!list) abort();
    for (size_t i = 0; i < n; i++) list[i] = wasi_io_poll_borrow_pollable(ready);
    wasi_io_poll_list_borrow_pollable_t in = {list, n};
    source_list_u32_t out;
    wasi_io_poll_poll(&in, &out);
    answer(ret, "polled");
  } else if (is(query, "huge-result")) {
    size_t n = count_of(maybe_cursor);
    static uint8_t long_title[1000];
    memset(long_title, 't', sizeof long_title);
    media_t *items = calloc(n, sizeof(media_t));
    if (!items) abort();
    for (size_t i = 0; i < n; i++) {
      source_string_dup(&items[i].id, "same");
      source_string_dup_n(&items[i].title, (const char *)long_title, sizeof long_title);
      items[i].kind = AWASM_SOURCE_TYPES_MEDIA_KIND_BOOK;
    }
    ret->items.ptr = items;
    ret->items.len = n;
    ret->next_cursor.is_some = false;
    return true;
  } else if (is(query, "empty-strings")) {
    size_t n = count_of(maybe_cursor);
    media_t *items = calloc(10, sizeof(media_t));
    if (!items) abort();
    for (size_t i = 0; i < 10; i++) {
      source_string_dup(&items[i].id, "empty");
      source_string_dup(&items[i].title, "empty");
      items[i].kind = AWASM_SOURCE_TYPES_MEDIA_KIND_BOOK;
      source_list_string_t *lists[] = {&items[i].alt_titles, &items[i].authors, &items[i].genres, &items[i].languages};
      for (size_t l = 0; l < 4; l++) {
        // each list its own allocation (the bindings free every list after the call); its strings are empty
        lists[l]->ptr = calloc(n, sizeof(source_string_t));
        if (!lists[l]->ptr) abort();
        lists[l]->len = n;
      }
    }
    ret->items.ptr = items;
    ret->items.len = 10;
    ret->next_cursor.is_some = false;
    return true;
  } else if (is(query, "huge-error")) {
    size_t n = count_of(maybe_cursor);
    uint8_t *text = malloc(n);
    if (!text) abort();
    memset(text, 'e', n);
    err->tag = AWASM_SOURCE_TYPES_SOURCE_ERROR_INTERNAL;
    err->val.internal = (source_string_t){text, n};
    return false;
  } else if (is(query, "empty-logs")) {
    size_t n = count_of(maybe_cursor);
    source_string_t empty = {(uint8_t *)"", 0};
    for (size_t i = 0; i < n; i++) awasm_source_host_log(AWASM_SOURCE_HOST_LOG_LEVEL_INFO, &empty);
    answer(ret, "logged");
  } else if (is(query, "long-log")) {
    size_t n = count_of(maybe_cursor);
    uint8_t *text = malloc(n);
    if (!text) abort();
    memset(text, 'x', n);
    source_string_t message = {text, n};
    awasm_source_host_log(AWASM_SOURCE_HOST_LOG_LEVEL_INFO, &message);
    answer(ret, "logged");
  } else if (is(query, "fields-list") || is(query, "alias-list")) {
    size_t n = count_of(maybe_cursor);
    static uint8_t *long_name;
    size_t long_len = 4000000;
    if (is(query, "alias-list") && !long_name) {
      long_name = malloc(long_len);
      if (!long_name) abort();
      memset(long_name, 'x', long_len);
    }
    wasi_http_types_tuple2_field_name_field_value_t *entries = malloc(n * sizeof *entries);
    if (!entries) abort();
    for (size_t i = 0; i < n; i++) {
      entries[i].f0 = long_name ? (source_string_t){long_name, long_len} : (source_string_t){(uint8_t *)"x", 1};
      entries[i].f1 = (wasi_http_types_field_value_t){(uint8_t *)"y", 1};
    }
    wasi_http_types_list_tuple2_field_name_field_value_t list = {entries, n};
    wasi_http_types_own_fields_t fields;
    wasi_http_types_header_error_t header_error;
    answer(ret, wasi_http_types_static_fields_from_list(&list, &fields, &header_error) ? "built" : "refused");
  } else if (is(query, "body-after-drop") && maybe_cursor) {
    wasi_http_types_own_incoming_response_t response;
    wasi_http_types_own_incoming_body_t body;
    wasi_http_types_own_input_stream_t stream;
    open_body(maybe_cursor, &response, &body, &stream);
    wasi_http_types_incoming_body_drop_own(body);
    wasi_http_types_incoming_response_drop_own(response);
    source_list_u8_t chunk;
    wasi_io_streams_stream_error_t stream_error;
    bool read = wasi_io_streams_method_input_stream_blocking_read(wasi_io_streams_borrow_input_stream(stream), 4096,
                                                                  &chunk, &stream_error);
    answer(ret, read ? "read a body after its parent was dropped" : "the read failed");
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
