package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel"
)

// routes wires every endpoint. This is the one place to read to know what
// the API offers and who may call it; openapi.yaml must list the same
// operations (a test checks it). A route that only decodes, calls its use
// case and renders names the use case, through the adapters of
// usecase_http.go.
func (a *API) routes() http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	// Only the configured proxies' X-Forwarded-For names the client (the
	// throttles count by address); gin trusts every proxy by default.
	_ = r.SetTrustedProxies(a.cfg.TrustedProxies)
	r.Use(withRequestID(), observe(a.log, a.metrics), recovery(a.log))
	r.NoRoute(a.notFoundRoute)
	r.NoMethod(a.methodNotAllowed)

	r.GET("/healthz", a.healthz)
	r.GET("/readyz", a.readyz)
	if a.cfg.MetricsAddr == "" { // otherwise Serve serves it on its own listener
		r.GET("/metrics", a.metricsHandler())
	}
	r.GET("/openapi.yaml", func(c *gin.Context) { c.Data(http.StatusOK, "application/yaml", lintel.OpenAPI) })

	r.GET("/.well-known/jwks.json", a.jwks)

	// The phone's own endpoints: the invitation code or the device key is
	// the proof, not a bearer key.
	r.POST("/v1/invitations/:code/accept", a.throttle(a.limits.accept), shownOnce(proved(a, "code", a.AcceptInvitation)))
	r.POST("/v1/credentials/:credential/challenge", a.throttle(a.limits.challenge), shownOnce(proved(a, "credential", a.RefreshChallenge)))
	r.POST("/v1/credentials/:credential/refresh", shownOnce(proved(a, "credential", a.RefreshCredential)))

	v1 := r.Group("/v1", a.authenticate, a.idempotency())

	rd := v1.Group("/reader", a.authorize(needReader), a.readerReport)
	rd.GET("/bundle", a.readerBundle)
	rd.GET("/stream", a.readerStream)
	rd.POST("/events", a.readerEvents)
	rd.POST("/commands/:command/ack", a.ackCommand)

	ops := v1.Group("/sites", a.authorize(needOperator))
	ops.POST("", a.createSite)
	ops.GET("", a.listSites)

	// Who may call what is decided by authorize (authz.go, docs/roles.md):
	// needSiteAdmin routes are open to operator keys, the site's admin key
	// and the keys of admin-role users of the site.
	admin := v1.Group("/sites/:site", a.authorize(needSiteAdmin))
	admin.GET("", a.getSite)

	admin.POST("/doors", decoded(a, http.StatusCreated, "", a.CreateDoor))
	admin.GET("/doors", listed(a, routeSite, a.ListDoors))
	admin.GET("/doors/:door", fetched(a, "door", a.GetDoor))
	admin.PATCH("/doors/:door", decoded(a, http.StatusOK, "door", a.UpdateDoor))
	admin.DELETE("/doors/:door", removed(a, "door", a.DeleteDoor))
	admin.POST("/doors/:door/readers", shownOnce(a.provisionReader))
	// Readers an admin can see and command (readers.go, unlock.go,
	// doorkeys.go).
	admin.GET("/readers", a.listReaders)
	admin.DELETE("/readers/:reader", acted(a, http.StatusOK, "reader", a.DecommissionReader))
	admin.POST("/doors/:door/unlock", a.unlockDoor)
	admin.POST("/doors/:door/rotate-keys", a.rotateDoorKeys)

	admin.POST("/groups", decoded(a, http.StatusCreated, "", a.CreateGroup))
	admin.GET("/groups", listed(a, routeSite, a.ListGroups))
	admin.GET("/groups/:group", fetched(a, "group", a.GetGroup))
	admin.PATCH("/groups/:group", decoded(a, http.StatusOK, "group", a.UpdateGroup))
	admin.DELETE("/groups/:group", removed(a, "group", a.DeleteGroup))

	admin.POST("/users", decoded(a, http.StatusCreated, "", a.CreateUser))
	admin.GET("/users", a.listUsers)
	admin.GET("/users/:user", fetched(a, "user", a.GetUser))
	admin.PATCH("/users/:user", decoded(a, http.StatusOK, "user", a.UpdateUser))
	admin.DELETE("/users/:user", acted(a, http.StatusOK, "user", a.DeactivateUser))
	admin.POST("/users/:user/api-keys", shownOnce(acted(a, http.StatusCreated, "user", a.CreateMemberKey)))
	admin.POST("/users/:user/cut-off", acted(a, http.StatusOK, "user", a.CutOffUser))

	admin.POST("/users/:user/cards", decoded(a, http.StatusCreated, "user", a.AssignCard))
	admin.GET("/users/:user/cards", a.listUserCards)
	admin.DELETE("/cards/:card", acted(a, http.StatusOK, "card", a.UnassignCard))
	admin.POST("/cards/:card/lost", acted(a, http.StatusOK, "card", a.MarkCardLost))
	admin.POST("/cards/:card/reassign", decoded(a, http.StatusOK, "card", a.ReassignCard))

	admin.POST("/users/:user/mobile-credentials", shownOnce(a.issueMobile))
	admin.GET("/credentials", queried(a, credentialQuery, a.ListCredentials))
	admin.POST("/credentials/:credential/revoke", decoded(a, http.StatusOK, "credential", a.RevokeCredential))

	admin.GET("/events", a.listEvents)

	// CSV imports of users and cards (docs/integrations.md).
	admin.POST("/imports", a.createImport)
	admin.GET("/imports/:import", fetched(a, "import", a.GetImport))
	admin.GET("/imports/:import/events", a.importEvents)

	// Bookings of schedule-based doors: admins for anyone, members for
	// themselves on doors their group opens.
	admin.PUT("/doors/:door/booking-schedule", decoded(a, http.StatusOK, "door", a.SetBookingSchedule))
	admin.GET("/doors/:door/booking-schedule", a.getBookingSchedule)
	members := v1.Group("/sites/:site", a.authorize(needSiteMember))
	members.GET("/doors/:door/availability", a.availability)
	members.POST("/doors/:door/bookings", shownOnce(decoded(a, http.StatusCreated, "door", a.CreateBooking)))
	members.GET("/doors/:door/bookings", a.listBookings)
	members.DELETE("/doors/:door/bookings/:booking", a.cancelBooking)

	// Signed webhooks (docs/webhooks.md): endpoints, their deliveries and
	// attempts, a manual redelivery.
	admin.POST("/webhooks", shownOnce(decoded(a, http.StatusCreated, "", a.CreateWebhook)))
	admin.GET("/webhooks", listed(a, routeSite, a.ListWebhooks))
	admin.GET("/webhooks/:webhook", fetched(a, "webhook", a.GetWebhook))
	admin.PATCH("/webhooks/:webhook", decoded(a, http.StatusOK, "webhook", a.UpdateWebhook))
	admin.DELETE("/webhooks/:webhook", removed(a, "webhook", a.DeleteWebhook))
	admin.POST("/webhooks/:webhook/rotate-secret", shownOnce(acted(a, http.StatusOK, "webhook", a.RotateWebhookSecret)))
	admin.GET("/webhooks/:webhook/deliveries", listed(a, routeWebhook, a.ListWebhookDeliveries))
	admin.POST("/webhooks/:webhook/deliveries/:delivery/redeliver", a.redeliverWebhook)

	// The notification outbox: what was sent, what is waiting, what failed.
	admin.GET("/deliveries", queried(a, deliveryQuery, a.ListDeliveries))
	admin.GET("/deliveries/:delivery", fetched(a, "delivery", a.GetDelivery))

	// Visitor passes: admins, and members within their group's policy
	// (checked in the handlers); the reader redeems single-use passes.
	passes := v1.Group("/sites/:site", a.authorize(needSiteMember))
	passes.POST("/visitor-passes", shownOnce(decoded(a, http.StatusCreated, "", a.CreatePass)))
	passes.GET("/visitor-passes", a.listPasses)
	passes.GET("/visitor-passes/:pass", a.getPass)
	passes.DELETE("/visitor-passes/:pass", acted(a, http.StatusOK, "pass", a.CancelPass))
	passes.GET("/visitor-passes/:pass/events", a.passEvents)
	rd.POST("/redeem", a.redeemPass)

	// PIN codes of a door (offline and custom), admins only.
	admin.POST("/doors/:door/pins", shownOnce(decoded(a, http.StatusCreated, "door", a.CreatePIN)))
	admin.GET("/doors/:door/pins", a.listPINs)
	admin.POST("/doors/:door/pins/:pin/reveal", shownOnce(a.revealPIN))
	admin.DELETE("/doors/:door/pins/:pin", a.deletePIN)

	// A person's own data, whatever their role: their credentials, the
	// passes they issued, the PINs assigned to them, their bookings and
	// their access history.
	me := v1.Group("/me", a.authorize(needSelf))
	me.GET("", a.getMe)
	me.GET("/credentials", listed(a, mustPrincipal, a.MyCredentials))
	me.GET("/credentials/:credential", a.myCredential)
	me.GET("/passes", a.listPasses)
	me.GET("/passes/:pass", a.getPass)
	me.GET("/pins", listed(a, mustPrincipal, a.MyPINs))
	me.GET("/bookings", a.myBookings)
	me.GET("/events", listed(a, mustPrincipal, a.MyEvents))

	// The visitor's pass page and its Wallet copies: the link's token (?t=)
	// is the proof, not a bearer key. Apple's PassKit web service sits
	// under /wallet (the passes' webServiceURL), each call authenticated by
	// its pass's ApplePass token, except the two Apple leaves open.
	passPages := r.Group("", a.throttle(a.limits.pass))
	passPages.GET("/p/:pass", a.passPage)
	passPages.GET("/invite/:code", a.invitePage)
	passPages.GET("/v1/passes/:pass/apple.pkpass", a.applePass)
	passPages.GET("/v1/passes/:pass/google", a.googlePass)
	r.GET("/.well-known/apple-app-site-association", a.appleAppSiteAssociation)
	r.GET("/.well-known/assetlinks.json", a.assetLinks)
	ws := r.Group("/wallet/v1")
	ws.POST("/log", a.throttle(a.limits.walletLog), a.walletLog)
	apple := ws.Group("", a.requireAppleWallet)
	apple.POST("/devices/:deviceLibraryIdentifier/registrations/:passTypeIdentifier/:serialNumber", a.walletRegister)
	apple.DELETE("/devices/:deviceLibraryIdentifier/registrations/:passTypeIdentifier/:serialNumber", a.walletUnregister)
	apple.GET("/devices/:deviceLibraryIdentifier/registrations/:passTypeIdentifier", a.walletSerials)
	apple.GET("/passes/:passTypeIdentifier/:serialNumber", a.walletLatest)

	// The console: its pages and passkey ceremonies (console.go).
	a.consoleRoutes(r)

	return r
}
