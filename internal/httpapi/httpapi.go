// Package httpapi serves Repair Room over HTTP: the JSON API (templates,
// rooms, link rotation, deletion), health checks, the WebSocket upgrade with
// its token and Origin checks, and the embedded browser client.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"

	"repairroom/internal/auth"
	"repairroom/internal/limits"
	"repairroom/internal/practice"
	"repairroom/internal/realtime"
	"repairroom/internal/room"
	"repairroom/internal/store"
	"repairroom/internal/templates"
)

// Deps is everything the HTTP layer needs, wired by the server.
type Deps struct {
	Store     *store.Store
	Hub       *realtime.Hub
	Templates *templates.Set
	Signer    *auth.Signer
	Log       *slog.Logger
	Web       fs.FS // the built client (web/dist)
	// AllowedOrigins for WebSocket upgrades, as scheme://host[:port]
	// compared exactly ("*": any); empty means same-origin only.
	AllowedOrigins []string
	// Limits: RoomTTL is the invite link lifetime, RoomsPerAddrPerMinute
	// the room-creation limit (shared by every node through Redis).
	Limits limits.Limits
	// TokenTTL and CreatePerMin override Limits when set (tests).
	TokenTTL     time.Duration
	CreatePerMin int
	// TrustedProxies (IPs or CIDR prefixes) may set X-Forwarded-For,
	// -Host and -Proto (a load balancer in front); from anyone else those
	// headers are ignored and the client is the peer address.
	TrustedProxies []string
	// Metrics, when set, is served at GET /metrics.
	Metrics http.Handler
	// Counters, when set, is told about rooms and refusals of this layer.
	Counters Counters
	// Practice, when set, serves therapists' practices (practice.go).
	Practice *practice.Store
	Now      func() time.Time
}

// Counters are the HTTP layer's events, for metrics.
type Counters interface {
	RoomCreated()
	RoomDeleted()
	Refused(limit string)
}

type nopCounters struct{}

func (nopCounters) RoomCreated()   {}
func (nopCounters) RoomDeleted()   {}
func (nopCounters) Refused(string) {}

type api struct{ Deps }

// New builds the Fiber app.
func New(d Deps) *fiber.App {
	if d.Now == nil {
		d.Now = time.Now
	}
	d.Limits = d.Limits.WithDefaults()
	if d.TokenTTL <= 0 {
		d.TokenTTL = d.Limits.RoomTTL
	}
	if d.CreatePerMin <= 0 {
		d.CreatePerMin = d.Limits.RoomsPerAddrPerMinute
	}
	if d.Counters == nil {
		d.Counters = nopCounters{}
	}
	a := &api{d}
	app := fiber.New(fiber.Config{
		DisableStartupMessage: true,
		BodyLimit:             64 << 10,
		ErrorHandler:          a.errorHandler,
		ReadTimeout:           30 * time.Second,
		IdleTimeout:           120 * time.Second,
		// The per-IP room limit needs the real client address behind a
		// load balancer, and only a trusted one may say what it is.
		EnableTrustedProxyCheck: len(d.TrustedProxies) > 0,
		TrustedProxies:          d.TrustedProxies,
		ProxyHeader:             proxyHeader(d.TrustedProxies),
	})
	app.Use(a.accessLog, a.recover, a.securityHeaders)

	app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"ok": true}) })
	app.Get("/readyz", a.ready)
	if d.Metrics != nil {
		app.Get("/metrics", adaptor.HTTPHandler(d.Metrics))
	}
	app.Get("/api/templates", a.listTemplates)
	app.Post("/api/rooms", a.createLimit, a.createRoom)
	app.Delete("/api/rooms/:id", a.deleteRoom)
	app.Post("/api/rooms/:id/rotate", a.rotateLinks)
	app.Get("/ws/rooms/:id", a.upgrade, websocket.New(a.serveWS, websocket.Config{
		// Origin is checked in upgrade against our own allow-list (with
		// same-origin as the default), which Origins cannot express.
		Origins: []string{"*"},
		// The hijacked connection already reads through fasthttp's own
		// 4 KiB buffer, so a second one this size only cost memory per
		// socket; 256 bytes still takes a keystroke's push in one read.
		ReadBufferSize:  256,
		WriteBufferSize: 4096,
		// Text frames are written by realtime's batch writer straight to
		// the connection; the library writes only through NextWriter (a
		// fallback no socket here takes), so its write buffer is borrowed
		// from a pool rather than held per socket.
		WriteBufferPool: &sync.Pool{},
		RecoverHandler: func(c *websocket.Conn) {
			if r := recover(); r != nil {
				d.Log.Error("websocket handler panicked", "panic", r)
			}
		},
	}))
	a.mountPractice(app)
	a.mountSummary(app) // summary.go: what a seat takes home
	a.mountWeb(app)
	return app
}

// clientAddr is the address the room limit counts. Behind a trusted proxy
// it is the right-most X-Forwarded-For entry, the one that proxy added: the
// entries left of it are whatever the client chose to send.
func clientAddr(behindProxy bool) func(c *fiber.Ctx) string {
	return func(c *fiber.Ctx) string {
		// IsProxyTrusted is true for everyone when no proxy is configured,
		// so it only counts when one is.
		if behindProxy && c.IsProxyTrusted() {
			if ips := c.IPs(); len(ips) > 0 {
				return strings.Clone(ips[len(ips)-1])
			}
		}
		return c.Context().RemoteIP().String()
	}
}

// createLimit is the room-creation limit per client address, counted in
// Redis so that N nodes do not allow N times the limit.
func (a *api) createLimit(c *fiber.Ctx) error {
	addr := clientAddr(len(a.TrustedProxies) > 0)(c)
	got, err := a.Store.Allow(c.UserContext(), "rooms", addr, a.CreatePerMin, time.Minute)
	if err != nil {
		return apiError(c, fiber.StatusServiceUnavailable, "unavailable", "storage is not reachable; try again")
	}
	if !got.Allowed {
		a.Counters.Refused("rooms_per_addr")
		secs := int(got.RetryAfter.Seconds() + 0.999)
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(max(secs, 1)))
		return apiError(c, fiber.StatusTooManyRequests, "rate_limited", "too many rooms created from this address; wait a minute")
	}
	return c.Next()
}

func proxyHeader(trusted []string) string {
	if len(trusted) == 0 {
		return ""
	}
	return fiber.HeaderXForwardedFor
}

func apiError(c *fiber.Ctx, status int, code, msg string) error {
	return c.Status(status).JSON(fiber.Map{"code": code, "message": msg})
}

func (a *api) errorHandler(c *fiber.Ctx, err error) error {
	var fe *fiber.Error
	if errors.As(err, &fe) {
		return apiError(c, fe.Code, "http_error", fe.Message)
	}
	a.Log.Error("request failed", "path", c.Path(), "err", err)
	return apiError(c, fiber.StatusInternalServerError, "internal", "something went wrong on our side")
}

// recover keeps a panic from killing the process and from reaching the
// client as text.
func (a *api) recover(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			a.Log.Error("handler panicked", "path", c.Path(), "panic", r)
			err = apiError(c, fiber.StatusInternalServerError, "internal", "something went wrong on our side")
		}
	}()
	return c.Next()
}

// accessLog logs method, path and status, never the query string or
// headers: invite tokens travel there. It runs outermost and hands an error
// to the error handler itself, so the status it logs is the one sent (a
// 404 is logged as 404, not as the 200 the response held before).
func (a *api) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	if err := c.Next(); err != nil {
		if herr := c.App().ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError) // the handler's own failure: nothing better to send
		}
	}
	path := c.Path()
	if strings.HasPrefix(path, "/assets/") || path == "/metrics" {
		return nil
	}
	a.Log.Info("http", "method", c.Method(), "path", path, "status", c.Response().StatusCode(), "ms", time.Since(start).Milliseconds())
	return nil
}

// csp allows the page's own scripts, styles and connections only; 'self'
// covers the WebSocket to the same host (ws: and wss: of the page's
// origin) in current browsers.
const csp = "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// securityHeaders: every response is no-store unless a handler says
// otherwise (the bundle's assets): API answers carry invite tokens, and
// nothing else is worth caching.
func (a *api) securityHeaders(c *fiber.Ctx) error {
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "no-referrer")
	c.Set("X-Frame-Options", "DENY")
	c.Set("Content-Security-Policy", csp)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Next()
}

func (a *api) ready(c *fiber.Ctx) error {
	if err := a.Store.Ping(c.UserContext()); err != nil {
		return apiError(c, fiber.StatusServiceUnavailable, "unavailable", "storage is not reachable")
	}
	return c.JSON(fiber.Map{"ok": true})
}

type templateSummary struct {
	ID      string              `json:"id"`
	Title   string              `json:"title"`
	Summary string              `json:"summary"`
	Roles   []templates.RoleDef `json:"roles"`
	Stages  []stageSummary      `json:"stages"`
}

type stageSummary struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

func (a *api) listTemplates(c *fiber.Ctx) error {
	out := []templateSummary{}
	for _, t := range a.Templates.List() {
		s := templateSummary{ID: t.ID, Title: t.Title, Summary: t.Summary, Roles: t.Roles, Stages: []stageSummary{}}
		if s.Roles == nil {
			s.Roles = []templates.RoleDef{}
		}
		for _, st := range t.Stages {
			s.Stages = append(s.Stages, stageSummary{ID: st.ID, Title: st.Title})
		}
		out = append(out, s)
	}
	return c.JSON(out)
}

type createReq struct {
	Template string            `json:"template"`
	Mode     string            `json:"mode"`
	Names    map[string]string `json:"names"`
}

type link struct {
	Role  string `json:"role"`
	Label string `json:"label"`
	URL   string `json:"url"`
}

type createResp struct {
	ID      string    `json:"id"`
	Mode    string    `json:"mode"`
	Expires time.Time `json:"expires"`
	Links   []link    `json:"links"`
}

const maxNameLen = 40

var seatLabels = map[string]string{
	string(room.PartnerA):  "Partner A",
	string(room.PartnerB):  "Partner B",
	string(room.Moderator): "Therapist",
}

func seatsFor(mode room.Mode) []string {
	seats := []string{string(room.PartnerA), string(room.PartnerB)}
	if mode == room.Guided {
		seats = append(seats, string(room.Moderator))
	}
	return seats
}

// templateAndMode checks a new room's template id and mode (createRoom
// and a practice's newSession take the same two). A nil template means the
// 400 answer is already written or err says what failed: the caller
// returns err.
func (a *api) templateAndMode(c *fiber.Ctx, id, m string) (*templates.Template, room.Mode, error) {
	tpl, ok := a.Templates.Get(id)
	if !ok {
		return nil, "", apiError(c, fiber.StatusBadRequest, "unknown_template", "no such template")
	}
	mode := room.Mode(m)
	if mode != room.Guided && mode != room.SelfGuided {
		return nil, "", apiError(c, fiber.StatusBadRequest, "bad_mode", `mode must be "guided" or "self"`)
	}
	return tpl, mode, nil
}

func (a *api) createRoom(c *fiber.Ctx) error {
	var req createReq
	if err := json.Unmarshal(c.Body(), &req); err != nil {
		return apiError(c, fiber.StatusBadRequest, "bad_json", "the body must be JSON: {template, mode}")
	}
	tpl, mode, err := a.templateAndMode(c, req.Template, req.Mode)
	if tpl == nil {
		return err
	}
	names := map[string]string{}
	for _, seat := range seatsFor(mode) {
		n := strings.TrimSpace(req.Names[seat])
		if len([]rune(n)) > maxNameLen {
			return apiError(c, fiber.StatusBadRequest, "bad_name", "names are at most 40 characters")
		}
		if n == "" {
			n = seatLabels[seat]
		}
		names[seat] = n
	}
	id, err := newRoomID()
	if err != nil {
		return err
	}
	if err := a.Hub.CreateRoom(c.UserContext(), id, tpl, mode, names); err != nil {
		return err
	}
	exp := a.Now().Add(a.TokenTTL)
	resp := createResp{ID: id, Mode: string(mode), Expires: exp.UTC()}
	for _, seat := range seatsFor(mode) {
		resp.Links = append(resp.Links, a.link(id, seat, names[seat], 1, exp))
	}
	a.Counters.RoomCreated()
	a.Log.Info("room created", "room", id, "template", tpl.ID, "mode", mode)
	return c.Status(fiber.StatusCreated).JSON(resp)
}

func (a *api) link(id, seat, name string, gen int64, exp time.Time) link {
	tok := a.Signer.Sign(auth.Claims{Room: id, Role: seat, Seat: seat, Expires: exp.Unix(), Gen: gen})
	return link{Role: seat, Label: name, URL: "/r/" + id + "#t=" + tok}
}

// newRoomID is 128 random bits: room ids are not secrets, but they should
// not be guessable either.
func newRoomID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)), nil
}

func validRoomID(id string) bool {
	if len(id) == 0 || len(id) > 40 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '2' && r <= '7') {
			return false
		}
	}
	return true
}

// authorized is a verified token holder of a room.
type authorized struct {
	claims auth.Claims
	meta   store.Meta
	tpl    *templates.Template
}

// authorize verifies tok for room id: signature, expiry, generation, and
// that the room and its template exist. It answers the HTTP error itself.
func (a *api) authorize(c *fiber.Ctx, id, tok string) (*authorized, error) {
	if !validRoomID(id) {
		return nil, apiError(c, fiber.StatusNotFound, "no_room", "no such room")
	}
	cl, err := a.Signer.Verify(tok, a.Now())
	switch {
	case errors.Is(err, auth.ErrExpired):
		return nil, apiError(c, fiber.StatusUnauthorized, "expired", "this link has expired")
	case err != nil:
		return nil, apiError(c, fiber.StatusUnauthorized, "bad_token", "this link is not valid")
	case cl.Room != id:
		return nil, apiError(c, fiber.StatusUnauthorized, "bad_token", "this link is for another room")
	}
	meta, err := a.Store.Meta(c.UserContext(), id)
	if errors.Is(err, store.ErrNoRoom) {
		return nil, apiError(c, fiber.StatusNotFound, "no_room", "this room does not exist any more")
	}
	if errors.Is(err, store.ErrRoomLost) {
		// A valid link to a room whose keys are gone without a tombstone:
		// Redis lost it, and the sockets still open may restore it from
		// their checkpoints. Clients retry a 503; a 404 would make them
		// give up on a room that is coming back.
		return nil, apiError(c, fiber.StatusServiceUnavailable, "room_lost", "this room's data is being restored; try again shortly")
	}
	if err != nil {
		return nil, err
	}
	if auth.CheckGen(cl, meta.Gen) != nil {
		return nil, apiError(c, fiber.StatusUnauthorized, "revoked", "this link was replaced by a newer one")
	}
	tpl, ok := a.Templates.Get(meta.Template)
	if !ok {
		return nil, apiError(c, fiber.StatusInternalServerError, "internal", "the room's template is not installed")
	}
	return &authorized{claims: cl, meta: meta, tpl: tpl}, nil
}

func bearer(c *fiber.Ctx) string {
	h := c.Get(fiber.HeaderAuthorization)
	if t, ok := strings.CutPrefix(h, "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	return ""
}

// mayManage: the moderator of a guided room, or either partner of a
// self-guided one, may delete the room and rotate its links.
func mayManage(z *authorized) bool {
	if z.meta.Mode == string(room.SelfGuided) {
		return z.claims.Role == string(room.PartnerA) || z.claims.Role == string(room.PartnerB)
	}
	return z.claims.Role == string(room.Moderator)
}

func (a *api) deleteRoom(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	z, err := a.authorize(c, id, bearer(c))
	if z == nil {
		return err
	}
	if !mayManage(z) {
		return apiError(c, fiber.StatusForbidden, "forbidden", "only the moderator (or, without one, a partner) may delete the room")
	}
	if err := a.Hub.DeleteRoom(c.UserContext(), id, z.tpl); err != nil {
		return err
	}
	a.Counters.RoomDeleted()
	a.Log.Info("room deleted", "room", id)
	return c.SendStatus(fiber.StatusNoContent)
}

func (a *api) rotateLinks(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	z, err := a.authorize(c, id, bearer(c))
	if z == nil {
		return err
	}
	if !mayManage(z) {
		return apiError(c, fiber.StatusForbidden, "forbidden", "only the moderator (or, without one, a partner) may rotate links")
	}
	gen, err := a.Hub.Rotate(c.UserContext(), id)
	if err != nil {
		return err
	}
	var names map[string]string
	_ = json.Unmarshal(z.meta.Names, &names)
	exp := a.Now().Add(a.TokenTTL)
	resp := createResp{ID: id, Mode: z.meta.Mode, Expires: exp.UTC()}
	for _, seat := range seatsFor(room.Mode(z.meta.Mode)) {
		resp.Links = append(resp.Links, a.link(id, seat, names[seat], gen, exp))
	}
	return c.JSON(resp)
}

// originAllowed: same-origin unless an allow-list is configured. Scheme,
// host and port are compared exactly (default ports made explicit); an
// Origin with user-info, a path or another scheme is refused.
func (a *api) originAllowed(c *fiber.Ctx) bool {
	origin, ok := canonOrigin(c.Get(fiber.HeaderOrigin))
	if !ok {
		return false
	}
	if len(a.AllowedOrigins) > 0 {
		for _, o := range a.AllowedOrigins {
			if o == "*" {
				return true
			}
			if allowed, ok := canonOrigin(o); ok && allowed == origin {
				return true
			}
		}
		return false
	}
	self, ok := canonOrigin(a.selfOrigin(c))
	return ok && self == origin
}

// selfOrigin is the origin the request was addressed to: the Host header
// and the connection's scheme, or what a trusted proxy says they were
// (X-Forwarded-Host, X-Forwarded-Proto). Fiber's Hostname and Protocol
// believe those headers from anyone when no proxy is configured, so they
// are not used here.
func (a *api) selfOrigin(c *fiber.Ctx) string {
	scheme, host := "http", string(c.Request().Host())
	if c.Context().IsTLS() {
		scheme = "https"
	}
	if len(a.TrustedProxies) > 0 && c.IsProxyTrusted() {
		if h := firstListed(c.Get(fiber.HeaderXForwardedHost)); h != "" {
			host = h
		}
		if p := strings.ToLower(firstListed(c.Get(fiber.HeaderXForwardedProto))); p == "http" || p == "https" {
			scheme = p
		}
	}
	return scheme + "://" + host
}

// firstListed is the first entry of a comma-separated header: the value
// the proxy nearest the client set.
func firstListed(h string) string {
	first, _, _ := strings.Cut(h, ",")
	return strings.TrimSpace(first)
}

// canonOrigin is scheme://host:port in lower case with the default port
// written out, or false for anything that is not a plain http(s) origin.
func canonOrigin(s string) (string, bool) {
	if s == "" || s == "null" {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || u.User != nil || u.Opaque != "" || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	switch {
	case scheme == "http" && port == "":
		port = "80"
	case scheme == "https" && port == "":
		port = "443"
	case scheme != "http" && scheme != "https":
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", false
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host + ":" + port, true
}

// upgrade authorises a WebSocket request before the upgrade, so a refused
// one gets a plain HTTP error a browser can show.
//
// A plain GET of the same URL answers whether the link works (401/404 with
// a code, or 426 when it does): a browser cannot read the status of a
// refused WebSocket upgrade, so the client asks this way before telling a
// person their link is broken.
func (a *api) upgrade(c *fiber.Ctx) error {
	isUpgrade := websocket.IsWebSocketUpgrade(c)
	if isUpgrade && !a.originAllowed(c) {
		return apiError(c, fiber.StatusForbidden, "bad_origin", "this origin may not open a room connection")
	}
	id := strings.Clone(c.Params("id"))
	z, err := a.authorize(c, id, strings.Clone(c.Query("token")))
	if z == nil {
		return err
	}
	device, ok, err := a.socketDevice(c, id, z, isUpgrade) // practice_devices.go
	if !ok {
		return err
	}
	if !isUpgrade {
		return apiError(c, fiber.StatusUpgradeRequired, "upgrade_required", "this link works; this endpoint speaks WebSocket")
	}
	var names map[string]string
	_ = json.Unmarshal(z.meta.Names, &names)
	name := names[z.claims.Role]
	if name == "" {
		name = seatLabels[z.claims.Role]
	}
	p := realtime.Participant{
		Room: id, Role: z.claims.Role, Seat: z.claims.Seat, Gen: z.claims.Gen, Name: name, Template: z.tpl, Device: device,
	}
	if ok, err := a.admitSocket(c, &p); !ok {
		return err
	}
	c.Locals("participant", p)
	return c.Next()
}

func (a *api) serveWS(c *websocket.Conn) {
	p, ok := c.Locals("participant").(realtime.Participant)
	if !ok {
		_ = c.Close()
		return
	}
	a.Hub.Serve(c, p)
}

// Shutdown drains the hub's sockets, then stops the HTTP server.
func Shutdown(ctx context.Context, app *fiber.App, hub *realtime.Hub) error {
	herr := hub.Shutdown(ctx)
	if err := app.ShutdownWithContext(ctx); err != nil {
		return err
	}
	return herr
}
