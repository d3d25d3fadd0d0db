package main

import (
	"context"
	"os"
	"slices"
	"sync"

	"github.com/stellarfw/stellar-go"
)

// announcements keeps the last messages of type "example.announce" this
// node received from the cluster.
type announcements struct {
	mu   sync.Mutex
	list []map[string]any // guarded by mu
}

func (a *announcements) add(m map[string]any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.list = append(a.list, m)
	if len(a.list) > 20 {
		a.list = a.list[1:]
	}
}

func (a *announcements) all() []map[string]any {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.list)
}

// setupCluster shows the cluster API: an RPC method every node answers
// (example.whoami), a message type every node listens to
// (example.announce), and actions that use them.
//
//	curl -X POST 'localhost:8080/api/clusterAnnounce?text=hello'
//	curl localhost:8080/api/clusterAnnouncements
//	curl localhost:8080/api/clusterWho
func setupCluster(app *stellar.App) error {
	app.Cluster.HandleFunc("example.whoami", func(ctx context.Context, call *stellar.ClusterCall) (any, error) {
		// The call's context carries the caller's trace: this line has
		// its trace_id.
		app.Logger().DebugContext(ctx, "whoami asked", "by", call.From)
		return map[string]any{"id": app.ID(), "pid": os.Getpid(), "askedBy": call.From}, nil
	})
	heard := &announcements{}
	app.Cluster.Subscribe("example.announce", func(ctx context.Context, m stellar.ClusterMessage) {
		var p struct {
			Text string `json:"text"`
		}
		if err := m.Decode(&p); err != nil {
			app.Logger().Warn("bad announcement", "from", m.From, "error", err.Error())
			return
		}
		app.Logger().Info("announcement", "from", m.From, "text", p.Text)
		heard.add(map[string]any{"from": m.From, "text": p.Text, "sentAt": m.SentAt})
	})
	return app.Actions.Register(
		&stellar.Action{
			Name:        "clusterAnnounce",
			Description: "Publish a message to every node of the cluster",
			Inputs:      map[string]stellar.Input{"text": {Required: true, Validator: "max:200"}},
			Run: func(ctx context.Context, r *stellar.Request) error {
				if err := app.Cluster.Publish(ctx, "example.announce", map[string]string{"text": r.Params.String("text")}); err != nil {
					return err
				}
				r.Response["published"] = true
				return nil
			},
		},
		&stellar.Action{
			Name:        "clusterAnnouncements",
			Description: "The last announcements this node heard",
			Run: func(ctx context.Context, r *stellar.Request) error {
				r.Response["announcements"] = heard.all()
				return nil
			},
		},
		&stellar.Action{
			Name:        "clusterWho",
			Description: "Ask every node who it is (DoAll example.whoami)",
			Run: func(ctx context.Context, r *stellar.Request) error {
				replies, err := app.Cluster.DoAll(ctx, "example.whoami", nil)
				if err != nil {
					return err
				}
				var nodes []map[string]any
				for _, rep := range replies {
					var who map[string]any
					if rep.Err != nil || rep.Decode(&who) != nil {
						continue
					}
					nodes = append(nodes, who)
				}
				r.Response["nodes"] = nodes
				return nil
			},
		},
	)
}
