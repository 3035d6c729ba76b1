package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/gofiber/fiber/v2"

	"repairroom/internal/practice"
)

// The practice API: passkey sign-up and sign-in, the session cookie, and
// the caseload (practice_caseload.go). Every state-changing route checks
// Origin (the cookie is SameSite=Strict too; the check also covers browsers
// and proxies that get SameSite wrong), and every caseload route reads the
// practice from the cookie alone, so one practice can never name another's
// couples or rooms.

// practiceCookie is the sign-in session cookie's name.
const practiceCookie = "rr_practice"

// mountPractice registers the practice routes when a practice store is
// wired (without one they do not exist), and the partners' way back into
// a room, which needs no practice.
func (a *api) mountPractice(app *fiber.App) {
	a.mountWayBack(app) // practice_wayback.go: partners need no practice
	if a.Practice == nil {
		return
	}
	g := app.Group("/api/practice", a.practiceOrigin)
	g.Post("/signup/begin", a.practiceLimit, a.signupBegin)
	g.Post("/signup/finish", a.signupFinish)
	g.Post("/signin/begin", a.practiceLimit, a.signinBegin)
	g.Post("/signin/finish", a.signinFinish)
	g.Post("/recover", a.practiceLimit, a.recoverPractice)
	g.Post("/signout", a.signout)

	// The caseload polls its status by itself: that must not renew the
	// session, or a page left open would never sign out.
	g.Get("/status", a.practicePeek, a.caseloadStatus)
	in := g.Group("", a.practiceAuth)
	in.Get("/me", a.practiceMe)
	in.Post("/passkeys/begin", a.passkeyBegin)
	in.Post("/passkeys/finish", a.passkeyFinish)
	in.Get("/export", a.practiceExport)
	in.Delete("", a.practiceDelete)
	a.mountCaseload(in)
	app.Get("/practice", a.practicePage)
}

// practicePage is the single-page client, which shows sign-in or the
// caseload at /practice.
func (a *api) practicePage(c *fiber.Ctx) error {
	index, err := fs.ReadFile(a.Web, "index.html")
	if err != nil {
		return c.Status(fiber.StatusServiceUnavailable).Type("html", "utf-8").SendString(missingBundle)
	}
	c.Type("html", "utf-8")
	return c.Send(index)
}

// practiceOrigin refuses a state-changing request from another origin.
// GETs pass: they change nothing and the cookie does not travel cross-site.
func (a *api) practiceOrigin(c *fiber.Ctx) error {
	if c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead {
		return c.Next()
	}
	if !a.originAllowed(c) {
		return apiError(c, fiber.StatusForbidden, "bad_origin", "this origin may not change a practice")
	}
	return c.Next()
}

// practiceLimit counts sign-ups, sign-ins and recovery attempts per
// address, as room creation is counted: each one writes to Redis.
func (a *api) practiceLimit(c *fiber.Ctx) error {
	addr := clientAddr(len(a.TrustedProxies) > 0)(c)
	got, err := a.Store.Allow(c.UserContext(), "practice", addr, a.CreatePerMin, time.Minute)
	if err != nil {
		return apiError(c, fiber.StatusServiceUnavailable, "unavailable", "storage is not reachable; try again")
	}
	if !got.Allowed {
		a.Counters.Refused("practice_per_addr")
		return apiError(c, fiber.StatusTooManyRequests, "rate_limited", "too many attempts from this address; wait a minute")
	}
	return c.Next()
}

// practiceAuth lets a request through with a live session cookie, puts
// the practice id in Locals("practice") and renews the cookie.
func (a *api) practiceAuth(c *fiber.Ctx) error {
	cookie := c.Cookies(practiceCookie)
	p, err := a.Practice.CheckLogin(c.UserContext(), cookie)
	if errors.Is(err, practice.ErrNotFound) {
		a.clearPracticeCookie(c)
		return apiError(c, fiber.StatusUnauthorized, "signed_out", "sign in to your practice")
	}
	if err != nil {
		return err
	}
	a.setPracticeCookie(c, strings.Clone(cookie))
	c.Locals("practice", p)
	return c.Next()
}

// practicePeek is practiceAuth without renewing the session or its cookie.
func (a *api) practicePeek(c *fiber.Ctx) error {
	p, err := a.Practice.PeekLogin(c.UserContext(), c.Cookies(practiceCookie))
	if errors.Is(err, practice.ErrNotFound) {
		return apiError(c, fiber.StatusUnauthorized, "signed_out", "sign in to your practice")
	}
	if err != nil {
		return err
	}
	c.Locals("practice", p)
	return c.Next()
}

func practiceOf(c *fiber.Ctx) string { p, _ := c.Locals("practice").(string); return p }

// secureRequest: the request reached us over TLS, directly or through a
// trusted proxy that says so.
func (a *api) secureRequest(c *fiber.Ctx) bool {
	return strings.HasPrefix(a.selfOrigin(c), "https://")
}

func (a *api) setPracticeCookie(c *fiber.Ctx, value string) {
	c.Cookie(&fiber.Cookie{
		Name: practiceCookie, Value: value, Path: "/",
		MaxAge:   int(a.Practice.LoginTTL() / time.Second),
		HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode, Secure: a.secureRequest(c),
	})
}

func (a *api) clearPracticeCookie(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{
		Name: practiceCookie, Value: "", Path: "/", MaxAge: -1,
		HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode, Secure: a.secureRequest(c),
	})
}

// signIn starts a session for p and sets its cookie.
func (a *api) signIn(c *fiber.Ctx, p string) error {
	cookie, err := a.Practice.NewLogin(c.UserContext(), p)
	if err != nil {
		return err
	}
	a.setPracticeCookie(c, cookie)
	return nil
}

// relyingParty is WebAuthn for the origin this request was addressed to
// (its Host, or what a trusted proxy says): the browser binds a passkey to
// the page's host, and signs the page's origin into every answer, which
// go-webauthn checks against this origin.
func (a *api) relyingParty(c *fiber.Ctx) (*webauthn.WebAuthn, error) {
	origin := a.selfOrigin(c)
	u, err := url.Parse(origin)
	if err != nil || u.Hostname() == "" {
		return nil, apiError(c, fiber.StatusBadRequest, "bad_host", "the request has no usable Host")
	}
	w, err := webauthn.New(&webauthn.Config{
		RPID: u.Hostname(), RPDisplayName: "Repair Room", RPOrigins: []string{origin},
	})
	if err != nil {
		return nil, apiError(c, fiber.StatusBadRequest, "bad_host", "passkeys do not work on this address: "+err.Error())
	}
	return w, nil
}

// ceremony is what the server keeps between a passkey ceremony's options
// and the browser's answer.
type ceremony struct {
	Session webauthn.SessionData `json:"session"`
	Name    string               `json:"name,omitempty"`
}

const maxPracticeName = 60

type signupReq struct {
	Name string `json:"name"`
}

func (a *api) signupBegin(c *fiber.Ctx) error {
	var req signupReq
	if err := json.Unmarshal(c.Body(), &req); err != nil {
		return apiError(c, fiber.StatusBadRequest, "bad_json", "the body must be JSON: {name}")
	}
	name := strings.TrimSpace(req.Name)
	if name == "" || len([]rune(name)) > maxPracticeName {
		return apiError(c, fiber.StatusBadRequest, "bad_name", "the practice needs a name of at most 60 characters")
	}
	w, err := a.relyingParty(c)
	if w == nil {
		return err
	}
	p := &practice.Practice{ID: practice.NewID(16), Name: name}
	p.Handle = []byte(p.ID)
	opts, sess, err := w.BeginRegistration(p,
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation))
	if err != nil {
		return apiError(c, fiber.StatusBadRequest, "passkey", "could not start the passkey: "+err.Error())
	}
	cid := practice.NewID(16)
	data, _ := json.Marshal(ceremony{Session: *sess, Name: name}) // plain data: cannot fail
	if err := a.Practice.PutSignup(c.UserContext(), p.ID, cid, data); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"ceremony": p.ID + "." + cid, "options": opts})
}

type finishReq struct {
	Ceremony   string          `json:"ceremony"`
	Credential json.RawMessage `json:"credential"`
}

// finishBegin is the common start of signupFinish and signinFinish: it
// reads the {ceremony, credential} body, takes the ceremony out of the
// store with take (each ceremony can be finished once) and builds the
// relying party. A nil *webauthn.WebAuthn means the answer is already
// written or err says what failed: the caller returns err.
func (a *api) finishBegin(c *fiber.Ctx, what string, take func(context.Context, string) ([]byte, error)) (finishReq, ceremony, *webauthn.WebAuthn, error) {
	var req finishReq
	var cer ceremony
	if err := json.Unmarshal(c.Body(), &req); err != nil {
		return req, cer, nil, apiError(c, fiber.StatusBadRequest, "bad_json", "the body must be JSON: {ceremony, credential}")
	}
	data, err := take(c.UserContext(), req.Ceremony)
	if errors.Is(err, practice.ErrNotFound) {
		return req, cer, nil, apiError(c, fiber.StatusBadRequest, "expired", "this "+what+" took too long or was already used; start again")
	}
	if err != nil {
		return req, cer, nil, err
	}
	if err := json.Unmarshal(data, &cer); err != nil {
		return req, cer, nil, err
	}
	w, err := a.relyingParty(c)
	return req, cer, w, err
}

func (a *api) signupFinish(c *fiber.Ctx) error {
	var pid string
	req, cer, w, err := a.finishBegin(c, "sign-up", func(ctx context.Context, ceremony string) ([]byte, error) {
		var cid string
		pid, cid, _ = strings.Cut(ceremony, ".")
		return a.Practice.TakeSignup(ctx, pid, cid)
	})
	if w == nil {
		return err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(req.Credential)
	if err != nil {
		return apiError(c, fiber.StatusBadRequest, "passkey", "the passkey answer could not be read")
	}
	p := &practice.Practice{ID: pid, Name: cer.Name, Handle: []byte(pid), Created: a.Now().UTC()}
	cred, err := w.CreateCredential(p, cer.Session, parsed)
	if err != nil {
		return apiError(c, fiber.StatusBadRequest, "passkey", "the passkey was not accepted")
	}
	code := practice.NewRecoveryCode()
	if err := a.Practice.Create(c.UserContext(), p, *cred, code); err != nil {
		return err
	}
	if err := a.signIn(c, pid); err != nil {
		return err
	}
	a.Log.Info("practice created", "practice", pid)
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"name": p.Name, "recoveryCode": code})
}

func (a *api) signinBegin(c *fiber.Ctx) error {
	w, err := a.relyingParty(c)
	if w == nil {
		return err
	}
	opts, sess, err := w.BeginDiscoverableLogin()
	if err != nil {
		return apiError(c, fiber.StatusBadRequest, "passkey", "could not start the sign-in: "+err.Error())
	}
	cid := practice.NewID(16)
	data, _ := json.Marshal(ceremony{Session: *sess}) // plain data: cannot fail
	if err := a.Practice.PutSignin(c.UserContext(), cid, data); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"ceremony": cid, "options": opts})
}

func (a *api) signinFinish(c *fiber.Ctx) error {
	req, cer, w, err := a.finishBegin(c, "sign-in", a.Practice.TakeSignin)
	if w == nil {
		return err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(req.Credential)
	if err != nil {
		return apiError(c, fiber.StatusBadRequest, "passkey", "the passkey answer could not be read")
	}
	ctx := c.UserContext()
	user, cred, err := w.ValidatePasskeyLogin(func(_, handle []byte) (webauthn.User, error) {
		return a.Practice.Get(ctx, string(handle))
	}, cer.Session, parsed)
	if err != nil {
		return apiError(c, fiber.StatusUnauthorized, "passkey", "this passkey does not open a practice here")
	}
	p := user.(*practice.Practice)
	if err := a.Practice.PutCredential(ctx, p.ID, *cred); err != nil { // the new sign count
		return err
	}
	if err := a.signIn(c, p.ID); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"name": p.Name})
}

type recoverReq struct {
	Code string `json:"code"`
}

// recoverPractice signs in with the recovery code, which then stops working; the
// answer carries a new one, shown once, and the caseload offers to add a
// passkey on this device.
func (a *api) recoverPractice(c *fiber.Ctx) error {
	var req recoverReq
	if err := json.Unmarshal(c.Body(), &req); err != nil {
		return apiError(c, fiber.StatusBadRequest, "bad_json", "the body must be JSON: {code}")
	}
	ctx := c.UserContext()
	p, err := a.Practice.UseRecoveryCode(ctx, req.Code)
	if errors.Is(err, practice.ErrNotFound) {
		return apiError(c, fiber.StatusUnauthorized, "bad_code", "this recovery code does not work (each code works once)")
	}
	if err != nil {
		return err
	}
	code := practice.NewRecoveryCode()
	if err := a.Practice.SetRecoveryCode(ctx, p, code); err != nil {
		return err
	}
	if err := a.signIn(c, p); err != nil {
		return err
	}
	a.Log.Info("practice recovered", "practice", p)
	return c.JSON(fiber.Map{"recoveryCode": code})
}

func (a *api) signout(c *fiber.Ctx) error {
	if err := a.Practice.EndLogin(c.UserContext(), c.Cookies(practiceCookie)); err != nil {
		return err
	}
	a.clearPracticeCookie(c)
	return c.SendStatus(fiber.StatusNoContent)
}

func (a *api) practiceMe(c *fiber.Ctx) error {
	p, err := a.Practice.Get(c.UserContext(), practiceOf(c))
	if errors.Is(err, practice.ErrNotFound) {
		return apiError(c, fiber.StatusUnauthorized, "signed_out", "this practice no longer exists")
	}
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"name": p.Name, "passkeys": len(p.Creds)})
}

// passkeyBegin adds a passkey to a signed-in practice (after a recovery,
// or for a second device).
func (a *api) passkeyBegin(c *fiber.Ctx) error {
	p, err := a.Practice.Get(c.UserContext(), practiceOf(c))
	if err != nil {
		return err
	}
	w, err := a.relyingParty(c)
	if w == nil {
		return err
	}
	var exclude []protocol.CredentialDescriptor
	for _, cr := range p.Creds {
		exclude = append(exclude, cr.Descriptor())
	}
	opts, sess, err := w.BeginRegistration(p,
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
		webauthn.WithExclusions(exclude))
	if err != nil {
		return apiError(c, fiber.StatusBadRequest, "passkey", "could not start the passkey: "+err.Error())
	}
	cid := practice.NewID(16)
	data, _ := json.Marshal(ceremony{Session: *sess}) // plain data: cannot fail
	if err := a.Practice.PutSignup(c.UserContext(), p.ID, cid, data); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"ceremony": p.ID + "." + cid, "options": opts})
}

func (a *api) passkeyFinish(c *fiber.Ctx) error {
	var req finishReq
	if err := json.Unmarshal(c.Body(), &req); err != nil {
		return apiError(c, fiber.StatusBadRequest, "bad_json", "the body must be JSON: {ceremony, credential}")
	}
	ctx := c.UserContext()
	pid, cid, _ := strings.Cut(req.Ceremony, ".")
	if pid != practiceOf(c) {
		return apiError(c, fiber.StatusBadRequest, "expired", "this ceremony is not yours")
	}
	data, err := a.Practice.TakeSignup(ctx, pid, cid)
	if errors.Is(err, practice.ErrNotFound) {
		return apiError(c, fiber.StatusBadRequest, "expired", "this took too long or was already used; start again")
	}
	if err != nil {
		return err
	}
	var cer ceremony
	if err := json.Unmarshal(data, &cer); err != nil {
		return err
	}
	p, err := a.Practice.Get(ctx, pid)
	if err != nil {
		return err
	}
	w, err := a.relyingParty(c)
	if w == nil {
		return err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(req.Credential)
	if err != nil {
		return apiError(c, fiber.StatusBadRequest, "passkey", "the passkey answer could not be read")
	}
	cred, err := w.CreateCredential(p, cer.Session, parsed)
	if err != nil {
		return apiError(c, fiber.StatusBadRequest, "passkey", "the passkey was not accepted")
	}
	if err := a.Practice.PutCredential(ctx, pid, *cred); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (a *api) practiceExport(c *fiber.Ctx) error {
	e, err := a.Practice.Export(c.UserContext(), practiceOf(c))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="practice.json"`)
	return c.JSON(e)
}

// practiceDelete deletes every room of the practice (through the room
// store, as a moderator's delete does), then every key of the practice.
func (a *api) practiceDelete(c *fiber.Ctx) error {
	ctx := c.UserContext()
	p := practiceOf(c)
	rooms, err := a.Practice.Rooms(ctx, p)
	if err != nil {
		return err
	}
	for _, r := range rooms {
		if err := a.deletePracticeRoom(ctx, r); err != nil {
			return err
		}
	}
	if err := a.Practice.Delete(ctx, p); err != nil {
		return err
	}
	a.clearPracticeCookie(c)
	a.Log.Info("practice deleted", "practice", p, "rooms", len(rooms))
	return c.SendStatus(fiber.StatusNoContent)
}

// deletePracticeRoom deletes a room's keys (a room that already expired
// has none left to delete).
func (a *api) deletePracticeRoom(ctx context.Context, r practice.Room) error {
	tpl, ok := a.Templates.Get(r.Template)
	if !ok {
		return errors.New("httpapi: a practice room's template is not installed: " + r.Template)
	}
	if err := a.Hub.DeleteRoom(ctx, r.ID, tpl); err != nil {
		return err
	}
	a.Counters.RoomDeleted()
	return nil
}
