/* Read an iCalendar text on stdin with libical and print every occurrence's instants in the
 * window [FROM, TO) (Unix seconds) as "UID<TAB>START<TAB>END" lines, START and END in Unix
 * seconds. TZIDs are resolved by libical (the file's VTIMEZONEs); series are expanded with
 * libical's own recurrence iterator, EXDATEs removed; an occurrence that another VEVENT of the
 * same UID overrides (RECURRENCE-ID) is that VEVENT's instead. All-day events are skipped.
 * Build: gcc -o instants instants.c $(pkg-config --cflags --libs libical) */
#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_all(void) {
    size_t size = 0, capacity = 1 << 16;
    char *text = malloc(capacity);
    size_t got;
    while ((got = fread(text + size, 1, capacity - size - 1, stdin)) > 0) {
        size += got;
        if (capacity - size < 2) {
            capacity *= 2;
            text = realloc(text, capacity);
        }
    }
    text[size] = '\0';
    return text;
}

static time_t instant(struct icaltimetype moment) {
    return icaltime_as_timet_with_zone(moment, moment.zone ? moment.zone : icaltimezone_get_utc_timezone());
}

static int excluded(icalcomponent *event, time_t start) {
    for (icalproperty *p = icalcomponent_get_first_property(event, ICAL_EXDATE_PROPERTY); p;
         p = icalcomponent_get_next_property(event, ICAL_EXDATE_PROPERTY)) {
        struct icaltimetype when = icalproperty_get_exdate(p);
        icalparameter *tzid = icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER);
        if (tzid) {
            icalcomponent *root = icalcomponent_get_parent(event);
            when.zone = icalcomponent_get_timezone(root, icalparameter_get_tzid(tzid));
        }
        if (instant(when) == start) return 1;
    }
    return 0;
}

static struct icaltimetype zoned(icalcomponent *event, icalproperty *p, struct icaltimetype when) {
    icalparameter *tzid = icalproperty_get_first_parameter(p, ICAL_TZID_PARAMETER);
    if (tzid) {
        when.zone = icalcomponent_get_timezone(icalcomponent_get_parent(event), icalparameter_get_tzid(tzid));
    }
    return when;
}

/* Whether one of the ``count`` VEVENTs overrides this occurrence of the series ``uid``. */
static int overridden(icalcomponent **events, int count, const char *uid, time_t at) {
    for (int i = 0; i < count; i++) {
        icalcomponent *e = events[i];
        icalproperty *rid = icalcomponent_get_first_property(e, ICAL_RECURRENCEID_PROPERTY);
        if (!rid || strcmp(icalcomponent_get_uid(e), uid) != 0) continue;
        if (instant(zoned(e, rid, icalproperty_get_recurrenceid(rid))) == at) return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: instants FROM TO < file.ics\n");
        return 2;
    }
    time_t from = (time_t)atoll(argv[1]), to = (time_t)atoll(argv[2]);
    char *text = read_all();
    icalcomponent *calendar = icalparser_parse_string(text);
    if (!calendar) {
        fprintf(stderr, "libical could not parse the input\n");
        return 1;
    }
    int count = icalcomponent_count_components(calendar, ICAL_VEVENT_COMPONENT), n = 0;
    icalcomponent **events = calloc(count ? count : 1, sizeof *events);
    for (icalcomponent *event = icalcomponent_get_first_component(calendar, ICAL_VEVENT_COMPONENT);
         event; event = icalcomponent_get_next_component(calendar, ICAL_VEVENT_COMPONENT)) {
        events[n++] = event;
    }
    for (int i = 0; i < count; i++) {
        icalcomponent *event = events[i];
        struct icaltimetype start = icalcomponent_get_dtstart(event);
        if (start.is_date) continue;
        struct icaltimetype end = icalcomponent_get_dtend(event);
        const char *uid = icalcomponent_get_uid(event);
        time_t first = instant(start), length = instant(end) - first;
        icalproperty *rule = icalcomponent_get_first_property(event, ICAL_RRULE_PROPERTY);
        if (!rule) {
            if (first < to && first + length > from) printf("%s\t%lld\t%lld\n", uid, (long long)first, (long long)(first + length));
            continue;
        }
        icalrecur_iterator *occurrences = icalrecur_iterator_new(icalproperty_get_rrule(rule), start);
        for (struct icaltimetype next = icalrecur_iterator_next(occurrences); !icaltime_is_null_time(next);
             next = icalrecur_iterator_next(occurrences)) {
            next.zone = start.zone;
            time_t at = instant(next);
            if (at >= to) break;
            if (at + length <= from || excluded(event, at)) continue;
            if (overridden(events, count, uid, at)) continue;
            printf("%s\t%lld\t%lld\n", uid, (long long)at, (long long)(at + length));
        }
        icalrecur_iterator_free(occurrences);
    }
    free(events);
    icalcomponent_free(calendar);
    free(text);
    return 0;
}
