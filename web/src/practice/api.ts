// The practice API as the caseload page uses it. The session travels in an
// HttpOnly cookie the page never sees; every call is same-origin.

export interface Present {
  role: string;
  name: string;
}

export interface Session {
  id: string;
  couple: string;
  template: string;
  templateTitle: string;
  mode: "guided" | "self";
  created: string;
  from?: string;
  status: "not_started" | "live" | "open" | "ended" | "gone";
  present: Present[];
}

export interface Couple {
  id: string;
  label: string;
  names?: Record<string, string>;
  created: string;
  sessions: Session[];
  /** The earliest check-in still ahead in the plans of its sessions. */
  nextCheckin?: string;
}

export interface Caseload {
  practice: { name: string };
  couples: Couple[];
  templates: { id: string; title: string }[];
}

export interface Link {
  role: string;
  label: string;
  url: string;
}

/** An API refusal, with the server's code and words. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch("/api/practice" + path, {
    method,
    credentials: "same-origin",
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return undefined as T;
  let data: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    data = await res.json();
  } catch {
    data = {};
  }
  if (!res.ok) throw new ApiError(res.status, data.code ?? "http_error", data.message ?? `the server answered ${res.status}`);
  return data as T;
}
