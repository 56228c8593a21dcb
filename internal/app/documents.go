package app

import (
	"context"
	"net/http"
	"os"

	"github.com/backhaul/backhaul/internal/blob"
	"github.com/backhaul/backhaul/internal/documents"
	"github.com/backhaul/backhaul/internal/gateway"
	"github.com/backhaul/backhaul/internal/modules"
)

// blobCredentials reads the object store's credentials from the
// environment only, never from flags or files, so they stay out of process
// listings and configuration repositories. Empty values fall back to the
// AWS_* variables (and so to a Kubernetes secret mounted as either).
func blobCredentials() blob.Credentials {
	return blob.Credentials{
		AccessKeyID:     os.Getenv(EnvName("blob-access-key-id")),
		SecretAccessKey: os.Getenv(EnvName("blob-secret-access-key")),
		SessionToken:    os.Getenv(EnvName("blob-session-token")),
	}
}

// initLoadService serves loads, bookings and the board, and the documents
// attached to loads, whose orphaned blobs it sweeps.
func (a *App) initLoadService(ctx context.Context) (modules.Service, error) {
	a.loads.Routes(a.api)
	blobs, err := blob.Open(ctx, a.cfg.BlobURL, a.cfg.DataDir, blobCredentials())
	if err != nil {
		return nil, err
	}
	secret, err := a.tokenSecret()
	if err != nil {
		return nil, err
	}
	svc, err := documents.New(a.db, blobs, a.loads, secret, documents.Config{
		MaxBytes: a.cfg.DocumentMaxBytes, LinkTTL: a.cfg.DocumentLinkTTL}, a.log, a.reg)
	if err != nil {
		return nil, err
	}
	svc.Routes(a.api)
	a.documents = svc
	return runner{&service{run: svc.Run}}, nil
}

// bodyLimits bounds request bodies: document uploads by the document size
// limit, everything else by --max-body-bytes or its per-prefix exceptions.
// A gateway that proxies uploads applies the same limit.
func (a *App) bodyLimits(next http.Handler, byPrefix map[string]int64) http.Handler {
	api := gateway.LimitBody(next, a.cfg.MaxBodyBytes, byPrefix)
	uploads := gateway.LimitBody(next, a.cfg.DocumentMaxBytes+documents.MultipartOverhead, nil)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if documents.IsUpload(r) {
			uploads.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}
