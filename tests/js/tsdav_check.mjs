// tsdav (the CalDAV client of many web calendars) against one calendar of a feedserver account.
//
//   node tsdav_check.mjs SPEC.json
//
// SPEC: {url, username, password, kind: "own" | "bookings", name (own: the calendar to make),
//        objects: [{filename, ics}] (own: what to write), range: {start, end} (ISO),
//        expect: {count, inRange, instances: ["YYYYMMDDTHHMMSSZ" or "YYYYMMDD", ...]}}
// Every check prints "ok - NAME" or "not ok - NAME: why"; the last line is "N passed, M failed",
// and the exit code is 1 when any failed.
import { readFileSync } from "node:fs";
import ICAL from "ical.js";
import { createDAVClient } from "tsdav";

const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
const results = [];

async function check(name, fn) {
  try {
    await fn();
    results.push(true);
    console.log(`ok - ${name}`);
  } catch (error) {
    results.push(false);
    console.log(`not ok - ${name}: ${error?.stack ?? error}`);
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

function utcText(date) {
  return date.toISOString().slice(0, 19).replace(/[-:]/g, "") + "Z";
}

// The start of each VEVENT of an expanded answer, read by ical.js: UTC text for a date-time,
// YYYYMMDD for a date. An expanded answer holds instances only (no RRULE, RDATE or EXDATE).
function instanceStarts(objects) {
  const starts = [];
  for (const object of objects) {
    const calendar = new ICAL.Component(ICAL.parse(object.data));
    for (const zone of calendar.getAllSubcomponents("vtimezone")) {
      ICAL.TimezoneService.register(zone);
    }
    for (const vevent of calendar.getAllSubcomponents("vevent")) {
      for (const name of ["rrule", "rdate", "exdate"]) {
        assert(!vevent.hasProperty(name), `an expanded instance still has ${name.toUpperCase()}`);
      }
      const start = vevent.getFirstPropertyValue("dtstart");
      starts.push(start.isDate ? start.toString().replace(/-/g, "") : utcText(start.toJSDate()));
    }
  }
  return starts.sort();
}

function same(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  assert(a === e, `${what}: expected ${e}, got ${a}`);
}

let client;
let account;
let calendar;
let objects = [];

await check("sign in and discover the principal and calendar home", async () => {
  client = await createDAVClient({
    serverUrl: spec.url,
    credentials: { username: spec.username, password: spec.password },
    authMethod: "Basic",
    defaultAccountType: "caldav",
  });
  account = await client.createAccount({
    account: {
      serverUrl: spec.url,
      accountType: "caldav",
      credentials: { username: spec.username, password: spec.password },
    },
  });
  assert(account.principalUrl?.includes(encodeURIComponent(spec.username)) ||
    account.principalUrl?.includes(spec.username), `principal ${account.principalUrl}`);
  assert(account.homeUrl, "no calendar home URL");
});

if (spec.kind === "own") {
  await check("make a calendar (MKCALENDAR)", async () => {
    const made = await client.makeCalendar({
      url: new URL(`${spec.name}/`, account.homeUrl).href,
      props: { displayname: spec.name },
    });
    assert(made.every((r) => r.ok !== false), `MKCALENDAR failed: ${JSON.stringify(made)}`);
  });
}

await check("list calendars with display name, ctag and sync token", async () => {
  const calendars = await client.fetchCalendars();
  const wanted = spec.kind === "own" ? spec.name : spec.name ?? "Bookings";
  calendar = calendars.find((c) => c.displayName === wanted);
  assert(calendar, `no calendar "${wanted}" in ${calendars.map((c) => c.displayName)}`);
  assert(calendar.ctag, "no ctag");
  assert(calendar.syncToken, "no sync token");
  assert(calendar.components?.includes("VEVENT"), "VEVENT not a supported component");
});

if (spec.kind === "own") {
  await check("create objects (PUT with If-None-Match)", async () => {
    for (const object of spec.objects) {
      const response = await client.createCalendarObject({
        calendar,
        filename: object.filename,
        iCalString: object.ics,
      });
      assert(response.ok, `PUT ${object.filename}: ${response.status}`);
    }
  });
  await check("the calendar is dirty after the writes (ctag changed)", async () => {
    const { isDirty, newCtag } = await client.isCollectionDirty({ collection: calendar });
    assert(isDirty, "ctag unchanged after writes");
    calendar.ctag = newCtag;
  });
}

await check("fetch every object (calendar-query, then calendar-multiget)", async () => {
  objects = await client.fetchCalendarObjects({ calendar });
  same(objects.length, spec.expect.count, "objects");
  assert(objects.every((o) => o.etag && o.data?.includes("BEGIN:VCALENDAR")), "etag or data missing");
});

await check("fetch the objects of a time range", async () => {
  const found = await client.fetchCalendarObjects({ calendar, timeRange: spec.range });
  same(found.length, spec.expect.inRange, "objects in range");
});

await check("fetch a time range expanded (calendar-query with C:expand)", async () => {
  const found = await client.fetchCalendarObjects({ calendar, timeRange: spec.range, expand: true });
  assert(found.every((o) => o.etag), "an expanded object has no etag");
  same(instanceStarts(found), spec.expect.instances, "expanded instances");
});

await check("fetch a time range expanded without multiget (calendar-query only)", async () => {
  const found = await client.fetchCalendarObjects({
    calendar,
    timeRange: spec.range,
    expand: true,
    useMultiGet: false,
  });
  same(instanceStarts(found), spec.expect.instances, "expanded instances");
});

await check("fetch named objects expanded (calendar-multiget with C:expand)", async () => {
  const found = await client.fetchCalendarObjects({
    calendar,
    objectUrls: objects.map((o) => o.url),
    timeRange: spec.range,
    expand: true,
  });
  same(instanceStarts(found), spec.expect.instances, "expanded instances");
});

await check("fetch named objects (calendar-multiget)", async () => {
  const found = await client.calendarMultiGet({
    url: calendar.url,
    props: { "d:getetag": {}, "c:calendar-data": {} },
    objectUrls: objects.map((o) => new URL(o.url).pathname),
    depth: "1",
  });
  same(found.length, objects.length, "multiget answers");
  assert(found.every((r) => r.ok && r.props?.getetag), "a multiget answer without etag");
});

await check("sync-collection from the start lists every object", async () => {
  const answer = await client.syncCollection({
    url: calendar.url,
    props: { "d:getetag": {} },
    syncLevel: 1,
    syncToken: "",
  });
  const hrefs = answer.filter((r) => r.href?.endsWith(".ics"));
  same(hrefs.length, objects.length, "synced objects");
});

await check("smart sync: nothing changed since the listing", async () => {
  const current = (await client.fetchCalendars()).find((c) => c.url === calendar.url);
  const synced = await client.smartCollectionSync({
    collection: { ...current, objects, objectMultiGet: client.calendarMultiGet },
    method: "webdav",
    detailedResult: true,
  });
  const { created, updated, deleted } = synced.objects;
  same([created.length, updated.length, deleted.length], [0, 0, 0], "changes");
});

await check("free-busy query over the range", async () => {
  const answer = await client.freeBusyQuery({
    url: calendar.url,
    timeRange: spec.range,
    depth: "1",
  });
  const text = JSON.stringify(answer);
  assert(text.includes("VFREEBUSY"), `no VFREEBUSY in ${text.slice(0, 300)}`);
});

if (spec.kind === "own") {
  await check("update an object with its etag (If-Match)", async () => {
    const first = objects.find((o) => o.url.endsWith(spec.objects[0].filename));
    const response = await client.updateCalendarObject({
      calendarObject: { ...first, data: first.data.replace(/SUMMARY:[^\r\n]*/, "SUMMARY:Changed") },
    });
    assert(response.ok, `update: ${response.status}`);
  });
  await check("a stale etag is refused (412)", async () => {
    const first = objects.find((o) => o.url.endsWith(spec.objects[0].filename));
    const response = await client.updateCalendarObject({ calendarObject: first });
    same(response.status, 412, "status");
  });
  await check("delete an object", async () => {
    const last = objects.find((o) => o.url.endsWith(spec.objects.at(-1).filename));
    const fresh = await client.fetchCalendarObjects({ calendar, objectUrls: [last.url] });
    const response = await client.deleteCalendarObject({ calendarObject: fresh[0] });
    assert(response.ok, `delete: ${response.status}`);
  });
} else {
  await check("the bookings calendar refuses writes (403)", async () => {
    const response = await client.createCalendarObject({
      calendar,
      filename: "sneaky.ics",
      iCalString: spec.expect.writeProbe,
    });
    same(response.status, 403, "status");
  });
}

const passed = results.filter(Boolean).length;
console.log(`${passed} passed, ${results.length - passed} failed`);
process.exit(results.every(Boolean) ? 0 : 1);
