// Package lifecycle keeps the start and stop of a node's parts to the
// node. task.Manager, chat.Chat and cluster.Cluster take a Key in their
// Start and Stop; only code of this module can name one, so a program
// holding the App's parts cannot start or stop them behind the node's
// back (it starts and stops the App).
package lifecycle

// Key is the node's permission to start and stop a part: pass Key{}.
// Outside this module the type cannot be named, and its blank field
// keeps an unnamed struct literal from standing in for it.
type Key struct{ _ struct{} }
