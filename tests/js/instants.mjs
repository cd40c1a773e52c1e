// Read an iCalendar text on stdin with a third-party parser and print every occurrence's
// instants as JSON: [{"uid", "start", "end"}] in UTC ISO 8601, from the window [from, to).
// Usage: node instants.mjs ical.js|ical.js-lenient|node-ical FROM TO < file.ics
import fs from "node:fs";
import ICAL from "ical.js";
import nodeIcal from "node-ical";

const [parser, from, to] = process.argv.slice(2);
const text = fs.readFileSync(0, "utf8");
const windowStart = new Date(from);
const windowEnd = new Date(to);
const out = [];

function icalJs(strict) {
  ICAL.design.strict = strict;
  const calendar = new ICAL.Component(ICAL.parse(text));
  // The feed's own VTIMEZONEs, nothing built in: what Thunderbird does with a subscription.
  for (const zone of calendar.getAllSubcomponents("vtimezone")) {
    ICAL.TimezoneService.register(new ICAL.Timezone(zone));
  }
  // Overrides (RECURRENCE-ID) are related to their series, as Thunderbird does: the series
  // then gives each overridden occurrence the override's own start and end.
  const components = calendar.getAllSubcomponents("vevent");
  const overrides = components.filter((c) => c.hasProperty("recurrence-id"));
  for (const component of components) {
    if (component.hasProperty("recurrence-id")) continue;
    const event = new ICAL.Event(component);
    for (const override of overrides) {
      if (override.getFirstPropertyValue("uid") === event.uid) event.relateException(override);
    }
    if (event.startDate.isDate) continue; // all-day: no instant to compare
    if (event.isRecurring()) {
      const iterator = event.iterator();
      for (let next = iterator.next(); next; next = iterator.next()) {
        const details = event.getOccurrenceDetails(next);
        const start = details.startDate.toJSDate();
        if (start >= windowEnd) break;
        const end = details.endDate.toJSDate();
        if (end > windowStart) out.push({ uid: event.uid, start: start.toISOString(), end: end.toISOString() });
      }
    } else {
      const start = event.startDate.toJSDate();
      const end = event.endDate.toJSDate();
      if (start < windowEnd && end > windowStart) {
        out.push({ uid: event.uid, start: start.toISOString(), end: end.toISOString() });
      }
    }
  }
}

function nodeIcalFirst() {
  // node-ical reads DTSTART/DTEND with the VTIMEZONEs; its series expansion (rrule.js) is
  // its own business, so only each event's first occurrence is compared.
  const data = nodeIcal.sync.parseICS(text);
  for (const item of Object.values(data)) {
    if (item.type !== "VEVENT" || item.datetype === "date") continue;
    out.push({ uid: item.uid, start: new Date(item.start).toISOString(), end: new Date(item.end).toISOString() });
  }
}

if (parser === "ical.js") icalJs(true);
else if (parser === "ical.js-lenient") icalJs(false);
else if (parser === "node-ical") nodeIcalFirst();
else throw new Error(`unknown parser ${parser}`);
process.stdout.write(JSON.stringify(out));
