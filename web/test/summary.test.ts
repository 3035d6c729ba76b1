import { test } from "node:test";
import assert from "node:assert/strict";
import { localToRFC3339, plannedTime } from "../src/room/checkins";
import { summaryRoomFromPath } from "../src/summary/route";
import { fileName } from "../src/summary/download";
import { describeEvent } from "../src/summary/timeline";
import { retentionChoices } from "../src/room/takehome";

test("a datetime-local value becomes RFC 3339 with the given offset", () => {
  assert.equal(localToRFC3339("2026-05-12T20:00", 120), "2026-05-12T20:00:00+02:00");
  assert.equal(localToRFC3339("2026-12-06T08:30", -300), "2026-12-06T08:30:00-05:00");
  assert.equal(localToRFC3339("2026-12-06T08:30", 330), "2026-12-06T08:30:00+05:30");
  assert.equal(localToRFC3339("2026-12-06T08:30", 0), "2026-12-06T08:30:00+00:00");
  assert.equal(localToRFC3339(""), "");
  assert.equal(localToRFC3339("Sunday 8 pm"), "");
  // Without an offset, the browser's own for that date.
  assert.match(localToRFC3339("2026-05-12T20:00"), /^2026-05-12T20:00:00[+-]\d{2}:\d{2}$/);
});

test("a planned time reads as planned, in its own offset", () => {
  const s = plannedTime("2026-05-10T20:00:00+02:00");
  assert.match(s, /20:00 \(UTC\+02:00\)$/);
  assert.match(s, /2026/);
  assert.match(plannedTime("2026-05-10T18:00:00Z"), /18:00 \(UTC\+00:00\)$/);
  assert.equal(plannedTime("not a time"), "not a time");
});

test("the summary route", () => {
  assert.equal(summaryRoomFromPath("/r/abc234/summary"), "abc234");
  assert.equal(summaryRoomFromPath("/r/abc234/summary/"), "abc234");
  assert.equal(summaryRoomFromPath("/r/abc234"), null);
  assert.equal(summaryRoomFromPath("/r/%E0/summary"), null);
  assert.equal(summaryRoomFromPath("/r//summary"), null);
});

test("download file names", () => {
  assert.equal(fileName('attachment; filename="repair-room-betrayal-2026-05-04.md"', "x.md"), "repair-room-betrayal-2026-05-04.md");
  assert.equal(fileName(null, "x.md"), "x.md");
});

test("timeline events in words", () => {
  const title = (id: string) => ({ plan: "Our repair plan" })[id] ?? id;
  assert.equal(describeEvent("stage.set", "Dr. Rivera", undefined, title, "plan"), "Dr. Rivera moved to “Our repair plan”");
  assert.equal(describeEvent("break.start", "Dr. Rivera", { minutes: 20 }, title), "Dr. Rivera started a break of 20 minutes");
  assert.equal(describeEvent("ready", "Sam", { advanced: true }, title, "plan"), "both were ready: on to “Our repair plan”");
});

test("retention choices stay within the server's limit", () => {
  assert.deepEqual(retentionChoices(90), [1, 7, 14, 30, 60, 90]);
  assert.deepEqual(retentionChoices(10), [1, 7]);
});
