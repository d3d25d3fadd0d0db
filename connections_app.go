package stellar

import (
	"context"
	"errors"
	"net"
	"net/http"

	"github.com/stellarfw/stellar-go/chat"
	"github.com/stellarfw/stellar-go/connection"
	"github.com/stellarfw/stellar-go/internal/node"
	"github.com/stellarfw/stellar-go/internal/session"
	"github.com/stellarfw/stellar-go/transport/tcp"
	"github.com/stellarfw/stellar-go/transport/ws"
)

// The chat and connection types, so that a user's main.go needs one
// import.
type (
	// ChatMiddleware is chat middleware (say, onSayReceive, join, leave);
	// register it with App.Chat.Use.
	ChatMiddleware = chat.Middleware
	// ChatMessage is a message said or emitted in a room.
	ChatMessage = chat.Message
	// ConnectionMiddleware runs when a persistent connection opens and
	// closes; register it with App.Connections.Use.
	ConnectionMiddleware = connection.Middleware
)

// connections is the state of the persistent transports while running.
type connections struct {
	tcp *tcp.Server
	ws  *ws.Server
}

// connectionsPart runs the chat rooms and the TCP and WebSocket
// transports. The WebSocket endpoint is mounted on the HTTP server.
func (a *App) connectionsPart() part {
	return part{
		name:  "connections",
		start: a.startConnections,
		stop:  a.stopConnections,
		status: func(ctx context.Context, out map[string]any) {
			out["connections"] = map[string]any{
				"tcp":       a.Connections.Len(connection.TypeTCP),
				"websocket": a.Connections.Len(connection.TypeWebSocket),
			}
		},
	}
}

// startConnections is the part's start; Start calls it with a.mu held.
func (a *App) startConnections(ctx context.Context, b *backend) error {
	cfg, logger := a.cfg, a.logger
	var store chat.Store
	if b.redis != nil {
		store = b.redis.Chat()
	} else {
		store = b.mem.Chat()
	}
	if err := a.Chat.Start(ctx, store, chat.Config{
		NodeID:        cfg.ID,
		DefaultRoom:   cfg.Chat.DefaultRoom,
		SweepInterval: cfg.Cluster.HeartbeatInterval,
		Logger:        logger,
	}); err != nil {
		return err
	}
	conns := &connections{}
	if cfg.TCP.Addr != "off" {
		srv := tcp.New(tcp.Options{
			Config: node.TCPConfig(cfg),
			Logger: logger,
			Session: &session.Options{NodeID: cfg.ID, Actions: a.Actions, Chat: a.Chat, Conns: a.Connections,
				Logger: logger},
		})
		if err := srv.Listen(); err != nil {
			_ = a.Chat.Stop(ctx)
			return err
		}
		conns.tcp = srv
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			if err := srv.Serve(); err != nil {
				logger.Error("tcp server stopped", "error", err.Error())
				select {
				case a.failed <- err:
				default:
				}
			}
		}()
		logger.Info("tcp server listening", "addr", srv.Addr().String(), "tls", cfg.TCP.TLSCert != "")
	}
	if cfg.HTTP.Addr != "off" && cfg.WebSocket.Path != "off" {
		conns.ws = ws.New(ws.Options{
			Config: node.WebSocketConfig(cfg),
			Logger: logger,
			Session: &session.Options{NodeID: cfg.ID, Actions: a.Actions, Chat: a.Chat, Conns: a.Connections,
				Logger: logger},
		})
	}
	a.conns = conns
	return nil
}

// stopConnections closes the persistent connections (they leave their
// rooms), then stops the chat. It runs without a.mu after Start succeeded
// (with it when Start failed); a.conns is written only by start, which
// Shutdown follows.
func (a *App) stopConnections(ctx context.Context) error {
	c := a.conns
	var errs []error
	if c != nil && c.ws != nil {
		errs = append(errs, c.ws.Shutdown(ctx))
	}
	if c != nil && c.tcp != nil {
		errs = append(errs, c.tcp.Shutdown(ctx))
	}
	errs = append(errs, a.Chat.Stop(ctx))
	return errors.Join(errs...)
}

// httpHandlers are the paths the persistent transports add to the HTTP
// server: the WebSocket endpoint and the browser client.
func (a *App) httpHandlers() map[string]http.Handler {
	c := a.conns
	if c == nil || c.ws == nil {
		return nil
	}
	p := c.ws.Path()
	return map[string]http.Handler{
		p:             c.ws,
		ws.ClientPath: ws.ClientHandler(p),
	}
}

// TCPAddr is the address the TCP server listens on, once started; nil
// when TCP is off. Useful with tcp.addr ":0".
func (a *App) TCPAddr() net.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conns == nil || a.conns.tcp == nil {
		return nil
	}
	return a.conns.tcp.Addr()
}
