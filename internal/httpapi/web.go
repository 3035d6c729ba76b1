package httpapi

import (
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

const missingBundle = `<!doctype html><meta charset="utf-8"><title>Repair Room</title>
<body style="font-family:system-ui;max-width:40rem;margin:4rem auto;line-height:1.5">
<h1>Repair Room</h1><p>The server is running, but the web client was not built into
this binary. Build it with <code>make run</code> (it runs <code>npm ci</code> and
<code>npm run build:web</code> before starting the server).</p></body>`

// mountWeb serves the single-page client: index.html for the start page
// and room pages, the bundle's files under /assets/.
func (a *api) mountWeb(app *fiber.App) {
	index, err := fs.ReadFile(a.Web, "index.html")
	page := func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		c.Type("html", "utf-8")
		if err != nil {
			return c.Status(fiber.StatusServiceUnavailable).SendString(missingBundle)
		}
		return c.Send(index)
	}
	app.Get("/", page)
	app.Get("/r/:id", page)
	app.Get("/r/:id/summary", page) // the summary page (web/src/summary)
	app.Get("/assets/*", func(c *fiber.Ctx) error {
		name := path.Clean(strings.Clone(c.Params("*")))
		if strings.HasPrefix(name, ".") || strings.Contains(name, "..") {
			return fiber.ErrNotFound
		}
		b, err := fs.ReadFile(a.Web, name)
		if err != nil {
			return fiber.ErrNotFound
		}
		if t := mime.TypeByExtension(path.Ext(name)); t != "" {
			c.Set(fiber.HeaderContentType, t)
		}
		c.Set(fiber.HeaderCacheControl, "no-cache")
		return c.Send(b)
	})
}
