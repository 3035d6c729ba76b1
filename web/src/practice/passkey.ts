// The browser's half of a passkey ceremony: the server's options arrive as
// JSON with base64url byte strings (go-webauthn's encoding); the
// authenticator wants ArrayBuffers, and its answer goes back as JSON with
// base64url again. No library: the two conversions are all there is.

function fromB64url(s: string): ArrayBuffer {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out.buffer;
}

function toB64url(b: ArrayBuffer | null): string | undefined {
  if (!b) return undefined;
  const bytes = new Uint8Array(b);
  let bin = "";
  for (const x of bytes) bin += String.fromCharCode(x);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function descriptors(list: Json[] | undefined): PublicKeyCredentialDescriptor[] | undefined {
  return list?.map((d) => ({ ...d, id: fromB64url(d.id) }) as PublicKeyCredentialDescriptor);
}

/** The JSON the server reads for a passkey answer: the credential's own
 *  fields around the ceremony's response (attestation or assertion). */
function credentialJSON(cred: PublicKeyCredential, response: Json): Json {
  return {
    id: cred.id,
    rawId: toB64url(cred.rawId),
    type: cred.type,
    authenticatorAttachment: cred.authenticatorAttachment ?? undefined,
    clientExtensionResults: cred.getClientExtensionResults(),
    response,
  };
}

/** Creates a passkey from the server's creation options; returns the answer as JSON. */
export async function createPasskey(options: Json): Promise<Json> {
  const o = options.publicKey;
  const publicKey: PublicKeyCredentialCreationOptions = {
    ...o,
    challenge: fromB64url(o.challenge),
    user: { ...o.user, id: fromB64url(o.user.id) },
    excludeCredentials: descriptors(o.excludeCredentials),
  };
  const cred = (await navigator.credentials.create({ publicKey })) as PublicKeyCredential | null;
  if (!cred) throw new Error("no passkey was made");
  const r = cred.response as AuthenticatorAttestationResponse;
  return credentialJSON(cred, {
    clientDataJSON: toB64url(r.clientDataJSON),
    attestationObject: toB64url(r.attestationObject),
    transports: typeof r.getTransports === "function" ? r.getTransports() : undefined,
  });
}

/** Signs in with a passkey (any of this site's); returns the answer as JSON. */
export async function usePasskey(options: Json): Promise<Json> {
  const o = options.publicKey;
  const publicKey: PublicKeyCredentialRequestOptions = {
    ...o,
    challenge: fromB64url(o.challenge),
    allowCredentials: descriptors(o.allowCredentials),
  };
  const cred = (await navigator.credentials.get({ publicKey })) as PublicKeyCredential | null;
  if (!cred) throw new Error("no passkey was chosen");
  const r = cred.response as AuthenticatorAssertionResponse;
  return credentialJSON(cred, {
    clientDataJSON: toB64url(r.clientDataJSON),
    authenticatorData: toB64url(r.authenticatorData),
    signature: toB64url(r.signature),
    userHandle: toB64url(r.userHandle),
  });
}

/** Whether this browser can do passkeys at all. */
export function passkeysSupported(): boolean {
  return typeof window.PublicKeyCredential === "function" && !!navigator.credentials;
}
