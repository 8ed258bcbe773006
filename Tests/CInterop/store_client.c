/*
 * store_client: talks to a running profile-store over its Unix socket using only the
 * .proto files (compiled with protoc-c) and libprotobuf-c — no Swift involved.
 *
 *   store_client SOCKET [USER_ID]
 *
 * It upserts a profile with a string, a number and a string-list attribute, tracks one event
 * with an explicit timestamp, reads the profile back, sends the event again (it must be a
 * duplicate: proof that it was stored under its id), and checks every answer. It prints what
 * it decoded and exits 0 only if everything matched.
 *
 * Frames are a 4-byte big-endian length followed by one protobuf message: RequestFrame from
 * client to server, ResponseFrame back (see Protos/segments/v1/rpc.proto).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "segments/v1/common.pb-c.h"
#include "segments/v1/rpc.pb-c.h"
#include "segments/v1/store.pb-c.h"

#define MAX_FRAME (16u * 1024u * 1024u)

static const char *METHOD_UPSERT = "segments.v1.ProfileStore/UpsertProfiles";
static const char *METHOD_TRACK = "segments.v1.ProfileStore/TrackEvents";
static const char *METHOD_GET = "segments.v1.ProfileStore/GetProfile";

static const char *PLAN = "pro";
static const double AGE = 34.0;
static const char *TAGS[] = {"beta", "newsletter"};
static const int64_t EVENT_AT_MS = 1767261600000; /* 2026-01-01T10:00:00Z */
static const double AMOUNT = 42.5;
static const char *EVENT_ID = "c-event-1";

static int failures = 0;

#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "MISMATCH: " __VA_ARGS__);                                                                 \
            fputc('\n', stderr);                                                                                       \
            failures++;                                                                                                \
        }                                                                                                              \
    } while (0)

/* ---- socket I/O ------------------------------------------------------------------------- */

static int connect_unix(const char *path) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("socket");
        return -1;
    }
    struct sockaddr_un address;
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof address.sun_path) {
        fprintf(stderr, "socket path too long: %s\n", path);
        close(fd);
        return -1;
    }
    strcpy(address.sun_path, path);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        fprintf(stderr, "connect %s: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int write_all(int fd, const uint8_t *bytes, size_t count) {
    while (count > 0) {
        ssize_t written = send(fd, bytes, count, MSG_NOSIGNAL);
        if (written < 0) {
            if (errno == EINTR) continue;
            perror("send");
            return -1;
        }
        bytes += written;
        count -= (size_t)written;
    }
    return 0;
}

static int read_all(int fd, uint8_t *bytes, size_t count) {
    while (count > 0) {
        ssize_t received = recv(fd, bytes, count, 0);
        if (received < 0 && errno == EINTR) continue;
        if (received <= 0) {
            fprintf(stderr, "recv: %s\n", received == 0 ? "connection closed by the server" : strerror(errno));
            return -1;
        }
        bytes += received;
        count -= (size_t)received;
    }
    return 0;
}

/* ---- RPC -------------------------------------------------------------------------------- */

/*
 * Sends RequestFrame{call_id, method, payload = request} and waits for the answer to it.
 * Returns the unpacked response message (free with protobuf_c_message_free_unpacked), or NULL
 * when the call failed; the failure is printed.
 */
static ProtobufCMessage *call(int fd, uint64_t call_id, const char *method, const ProtobufCMessage *request,
                              const ProtobufCMessageDescriptor *response_descriptor) {
    size_t payload_length = protobuf_c_message_get_packed_size(request);
    uint8_t *payload = malloc(payload_length ? payload_length : 1);
    protobuf_c_message_pack(request, payload);

    Segments__V1__RequestFrame frame = SEGMENTS__V1__REQUEST_FRAME__INIT;
    frame.call_id = call_id;
    frame.method = (char *)method;
    frame.payload.data = payload;
    frame.payload.len = payload_length;

    size_t frame_length = segments__v1__request_frame__get_packed_size(&frame);
    uint8_t *out = malloc(4 + frame_length);
    uint32_t prefix = htonl((uint32_t)frame_length);
    memcpy(out, &prefix, 4);
    segments__v1__request_frame__pack(&frame, out + 4);
    int sent = write_all(fd, out, 4 + frame_length);
    free(out);
    free(payload);
    if (sent != 0) return NULL;

    uint8_t header[4];
    if (read_all(fd, header, 4) != 0) return NULL;
    uint32_t length = ((uint32_t)header[0] << 24) | ((uint32_t)header[1] << 16) | ((uint32_t)header[2] << 8) | header[3];
    if (length > MAX_FRAME) {
        fprintf(stderr, "%s: response frame of %" PRIu32 " bytes exceeds the limit\n", method, length);
        return NULL;
    }
    uint8_t *in = malloc(length ? length : 1);
    if (read_all(fd, in, length) != 0) {
        free(in);
        return NULL;
    }
    Segments__V1__ResponseFrame *response = segments__v1__response_frame__unpack(NULL, length, in);
    free(in);
    if (response == NULL) {
        fprintf(stderr, "%s: the answer is not a valid ResponseFrame\n", method);
        return NULL;
    }

    ProtobufCMessage *result = NULL;
    Segments__V1__StatusCode code = response->status ? response->status->code : SEGMENTS__V1__STATUS_CODE__STATUS_CODE_OK;
    printf("%s: ResponseFrame{call_id=%" PRIu64 ", end=%d, status=%d \"%s\", payload=%zu bytes}\n", method,
           response->call_id, (int)response->end, (int)code,
           response->status && response->status->message ? response->status->message : "", response->payload.len);
    if (response->call_id != call_id) {
        fprintf(stderr, "%s: answer for call %" PRIu64 ", expected %" PRIu64 "\n", method, response->call_id, call_id);
    } else if (!response->end) {
        fprintf(stderr, "%s: a unary answer must be an end frame\n", method);
    } else if (code != SEGMENTS__V1__STATUS_CODE__STATUS_CODE_OK) {
        fprintf(stderr, "%s: call failed with status %d\n", method, (int)code);
    } else {
        result = protobuf_c_message_unpack(response_descriptor, NULL, response->payload.len, response->payload.data);
        if (result == NULL) {
            fprintf(stderr, "%s: payload is not a valid %s\n", method, response_descriptor->name);
        }
    }
    segments__v1__response_frame__free_unpacked(response, NULL);
    return result;
}

static int check_write(const char *what, Segments__V1__WriteResponse *response) {
    if (response == NULL) return -1;
    printf("  WriteResponse{seq=%" PRIu64 ", accepted=%" PRIu32 ", duplicates=%" PRIu32 ", rejected=%zu}\n",
           response->seq, response->accepted, response->duplicates, response->n_rejected);
    CHECK(response->seq > 0, "%s: seq should be positive", what);
    CHECK(response->accepted == 1, "%s: accepted %" PRIu32 ", expected 1", what, response->accepted);
    CHECK(response->n_rejected == 0, "%s: %zu items rejected", what, response->n_rejected);
    for (size_t i = 0; i < response->n_rejected; i++) {
        Segments__V1__ItemError *rejection = response->rejected[i];
        fprintf(stderr, "  rejected item %" PRIu32 ": %s\n", rejection->index,
                rejection->status && rejection->status->message ? rejection->status->message : "?");
    }
    segments__v1__write_response__free_unpacked(response, NULL);
    return 0;
}

/* ---- the three calls -------------------------------------------------------------------- */

static int upsert_profile(int fd, const char *user_id) {
    Segments__V1__Value plan = SEGMENTS__V1__VALUE__INIT;
    plan.kind_case = SEGMENTS__V1__VALUE__KIND_STRING_VALUE;
    plan.string_value = (char *)PLAN;

    Segments__V1__Value age = SEGMENTS__V1__VALUE__INIT;
    age.kind_case = SEGMENTS__V1__VALUE__KIND_NUMBER_VALUE;
    age.number_value = AGE;

    Segments__V1__StringList tag_list = SEGMENTS__V1__STRING_LIST__INIT;
    tag_list.n_values = 2;
    tag_list.values = (char **)TAGS;
    Segments__V1__Value tags = SEGMENTS__V1__VALUE__INIT;
    tags.kind_case = SEGMENTS__V1__VALUE__KIND_STRING_LIST;
    tags.string_list = &tag_list;

    Segments__V1__ProfilePatch__AttributesEntry entries[3] = {
        SEGMENTS__V1__PROFILE_PATCH__ATTRIBUTES_ENTRY__INIT,
        SEGMENTS__V1__PROFILE_PATCH__ATTRIBUTES_ENTRY__INIT,
        SEGMENTS__V1__PROFILE_PATCH__ATTRIBUTES_ENTRY__INIT,
    };
    entries[0].key = "plan";
    entries[0].value = &plan;
    entries[1].key = "age";
    entries[1].value = &age;
    entries[2].key = "tags";
    entries[2].value = &tags;
    Segments__V1__ProfilePatch__AttributesEntry *entry_pointers[3] = {&entries[0], &entries[1], &entries[2]};

    Segments__V1__ProfilePatch patch = SEGMENTS__V1__PROFILE_PATCH__INIT;
    patch.user_id = (char *)user_id;
    patch.n_attributes = 3;
    patch.attributes = entry_pointers;
    Segments__V1__ProfilePatch *patches[1] = {&patch};

    Segments__V1__UpsertProfilesRequest request = SEGMENTS__V1__UPSERT_PROFILES_REQUEST__INIT;
    request.n_patches = 1;
    request.patches = patches;

    ProtobufCMessage *response =
        call(fd, 1, METHOD_UPSERT, &request.base, &segments__v1__write_response__descriptor);
    return check_write("UpsertProfiles", (Segments__V1__WriteResponse *)response);
}

static int track_event(int fd, const char *user_id) {
    Segments__V1__Value amount = SEGMENTS__V1__VALUE__INIT;
    amount.kind_case = SEGMENTS__V1__VALUE__KIND_NUMBER_VALUE;
    amount.number_value = AMOUNT;
    Segments__V1__Event__PropertiesEntry property = SEGMENTS__V1__EVENT__PROPERTIES_ENTRY__INIT;
    property.key = "amount";
    property.value = &amount;
    Segments__V1__Event__PropertiesEntry *properties[1] = {&property};

    Segments__V1__Event event = SEGMENTS__V1__EVENT__INIT;
    event.user_id = (char *)user_id;
    event.name = "purchase";
    event.at_ms = EVENT_AT_MS;
    event.at_given = 1;
    event.n_properties = 1;
    event.properties = properties;
    event.event_id = (char *)EVENT_ID;
    Segments__V1__Event *events[1] = {&event};

    Segments__V1__TrackEventsRequest request = SEGMENTS__V1__TRACK_EVENTS_REQUEST__INIT;
    request.n_events = 1;
    request.events = events;

    ProtobufCMessage *response = call(fd, 2, METHOD_TRACK, &request.base, &segments__v1__write_response__descriptor);
    return check_write("TrackEvents", (Segments__V1__WriteResponse *)response);
}

/* Sends the same event (same event_id) again: the store must recognise it as stored. */
static int track_event_again(int fd, const char *user_id) {
    Segments__V1__Event event = SEGMENTS__V1__EVENT__INIT;
    event.user_id = (char *)user_id;
    event.name = "purchase";
    event.at_ms = EVENT_AT_MS;
    event.at_given = 1;
    event.event_id = (char *)EVENT_ID;
    Segments__V1__Event *events[1] = {&event};
    Segments__V1__TrackEventsRequest request = SEGMENTS__V1__TRACK_EVENTS_REQUEST__INIT;
    request.n_events = 1;
    request.events = events;

    Segments__V1__WriteResponse *response = (Segments__V1__WriteResponse *)call(
        fd, 4, METHOD_TRACK, &request.base, &segments__v1__write_response__descriptor);
    if (response == NULL) return -1;
    printf("  WriteResponse{seq=%" PRIu64 ", accepted=%" PRIu32 ", duplicates=%" PRIu32 ", rejected=%zu}\n",
           response->seq, response->accepted, response->duplicates, response->n_rejected);
    CHECK(response->duplicates == 1, "repeated event: duplicates %" PRIu32 ", expected 1", response->duplicates);
    CHECK(response->accepted == 0, "repeated event: accepted %" PRIu32 ", expected 0", response->accepted);
    CHECK(response->seq == 0, "repeated event: seq %" PRIu64 ", expected 0 (nothing changed)", response->seq);
    segments__v1__write_response__free_unpacked(response, NULL);
    return 0;
}

static const Segments__V1__Value *attribute(const Segments__V1__Profile *profile, const char *key) {
    for (size_t i = 0; i < profile->n_attributes; i++) {
        if (strcmp(profile->attributes[i]->key, key) == 0) return profile->attributes[i]->value;
    }
    return NULL;
}

static int get_profile(int fd, const char *user_id) {
    Segments__V1__GetProfileRequest request = SEGMENTS__V1__GET_PROFILE_REQUEST__INIT;
    request.user_id = (char *)user_id;
    Segments__V1__GetProfileResponse *response = (Segments__V1__GetProfileResponse *)call(
        fd, 3, METHOD_GET, &request.base, &segments__v1__get_profile_response__descriptor);
    if (response == NULL) return -1;
    if (response->profile == NULL) {
        fprintf(stderr, "GetProfile: no profile in the answer\n");
        segments__v1__get_profile_response__free_unpacked(response, NULL);
        return -1;
    }
    const Segments__V1__Profile *profile = response->profile;
    printf("  Profile{user_id=%s, created_seq=%" PRIu64 ", updated_seq=%" PRIu64 "}\n",
           profile->user_id, profile->created_seq, profile->updated_seq);
    for (size_t i = 0; i < profile->n_attributes; i++) {
        const Segments__V1__Value *value = profile->attributes[i]->value;
        printf("    %s = ", profile->attributes[i]->key);
        switch (value ? value->kind_case : SEGMENTS__V1__VALUE__KIND__NOT_SET) {
        case SEGMENTS__V1__VALUE__KIND_STRING_VALUE: printf("\"%s\"\n", value->string_value); break;
        case SEGMENTS__V1__VALUE__KIND_NUMBER_VALUE: printf("%g\n", value->number_value); break;
        case SEGMENTS__V1__VALUE__KIND_BOOL_VALUE: printf("%s\n", value->bool_value ? "true" : "false"); break;
        case SEGMENTS__V1__VALUE__KIND_TIMESTAMP_MS: printf("@%" PRId64 "\n", value->timestamp_ms); break;
        case SEGMENTS__V1__VALUE__KIND_STRING_LIST:
            printf("[");
            for (size_t j = 0; j < value->string_list->n_values; j++) {
                printf("%s\"%s\"", j ? ", " : "", value->string_list->values[j]);
            }
            printf("]\n");
            break;
        default: printf("null\n"); break;
        }
    }

    CHECK(strcmp(profile->user_id, user_id) == 0, "user_id is %s", profile->user_id);
    CHECK(profile->n_attributes == 3, "%zu attributes, expected 3", profile->n_attributes);
    CHECK(profile->created_seq > 0 && profile->updated_seq >= profile->created_seq, "bad seqs");
    /* The event is checked by track_event_again() (a repeat is a duplicate), and the Swift side
     * of the test reads it back from the change log. */

    const Segments__V1__Value *plan = attribute(profile, "plan");
    CHECK(plan && plan->kind_case == SEGMENTS__V1__VALUE__KIND_STRING_VALUE && strcmp(plan->string_value, PLAN) == 0,
          "plan should be \"%s\"", PLAN);
    const Segments__V1__Value *age = attribute(profile, "age");
    CHECK(age && age->kind_case == SEGMENTS__V1__VALUE__KIND_NUMBER_VALUE && age->number_value == AGE,
          "age should be %g", AGE);
    const Segments__V1__Value *tags = attribute(profile, "tags");
    CHECK(tags && tags->kind_case == SEGMENTS__V1__VALUE__KIND_STRING_LIST && tags->string_list &&
              tags->string_list->n_values == 2 && strcmp(tags->string_list->values[0], TAGS[0]) == 0 &&
              strcmp(tags->string_list->values[1], TAGS[1]) == 0,
          "tags should be [\"%s\", \"%s\"]", TAGS[0], TAGS[1]);

    segments__v1__get_profile_response__free_unpacked(response, NULL);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s SOCKET [USER_ID]\n", argv[0]);
        return 2;
    }
    const char *user_id = argc == 3 ? argv[2] : "c-user";
    int fd = connect_unix(argv[1]);
    if (fd < 0) return 1;

    int ok = upsert_profile(fd, user_id) == 0 && track_event(fd, user_id) == 0 && get_profile(fd, user_id) == 0 &&
             track_event_again(fd, user_id) == 0;
    close(fd);
    if (!ok || failures > 0) {
        fprintf(stderr, "FAILED (%d mismatches)\n", failures);
        return 1;
    }
    printf("OK\n");
    return 0;
}
