/*
 * Stellar for Go: the browser client, served by every node at
 * /stellar-client.js. It talks to the node over WebSocket (path /ws by
 * default) and falls back to HTTP for actions while no socket is open.
 *
 *   const client = new StellarClient({ url: 'https://api.example.com' })
 *   await client.connect()
 *   const res = await client.action('status')
 *   await client.roomAdd('lobby')
 *   client.to('lobby').on('say', m => console.log(m.from, m.message))
 *   client.say('lobby', 'hello')
 *
 * Events: connected, disconnected, reconnecting, reconnect, error,
 * message, welcome, say, alert, api, and every event name given to emit.
 */
(function (root) {
  'use strict'

  function StellarClient (options) {
    options = options || {}
    var loc = root.location || { protocol: 'http:', host: 'localhost' }
    this.url = (options.url || (loc.protocol + '//' + loc.host)).replace(/\/+$/, '')
    this.path = options.path || '/ws'
    this.apiPath = options.apiPath || '/api'
    this.defaultRoom = options.defaultRoom || 'defaultRoom'
    this.reconnect = options.reconnect !== false
    this.minBackoff = options.minBackoff || 100
    this.maxBackoff = options.maxBackoff || 5000
    this.timeout = options.timeout || 30000
    this.interceptors = []
    this.id = null
    this.details = null
    this.rooms = []
    this.state = 'disconnected'
    this._ws = null
    this._count = 0
    this._pending = {}
    this._handlers = {}
    this._attempt = 0
    this._closing = false
    this._timer = null
  }

  var P = StellarClient.prototype

  P.setDefaultRoom = function (room) { this.defaultRoom = room }

  P._wsURL = function () {
    return this.url.replace(/^http/, 'ws') + this.path
  }

  /** connect opens the socket; it resolves with detailsView's answer. */
  P.connect = function () {
    var self = this
    self._closing = false
    if (self._timer) { clearTimeout(self._timer); self._timer = null }
    return new Promise(function (resolve, reject) {
      var ws
      try {
        ws = new root.WebSocket(self._wsURL())
      } catch (e) {
        reject(e)
        return
      }
      var opened = false
      self._ws = ws
      self._count = 0
      self.state = 'connecting'
      ws.onmessage = function (ev) { self._receive(ev.data) }
      ws.onopen = function () {
        opened = true
        self.state = 'connected'
        var wasReconnect = self._attempt > 0
        self._attempt = 0
        self.detailsView().then(function (details) {
          self.id = details.id
          self.details = details
          var rooms = self.rooms.slice()
          self.rooms = []
          return Promise.all(rooms.map(function (r) { return self.roomAdd(r) })).then(function () {
            self._fire('connected', details)
            if (wasReconnect) self._fire('reconnect', details)
            resolve(details)
          })
        }).catch(function (e) { self._fire('error', e); reject(e) })
      }
      ws.onerror = function (e) {
        self._fire('error', e)
        if (!opened) reject(new Error('stellar: cannot connect to ' + self._wsURL()))
      }
      ws.onclose = function (ev) {
        if (self._ws === ws) self._ws = null
        self.state = 'disconnected'
        for (var id in self._pending) {
          self._pending[id].reject(new Error('stellar: connection closed'))
        }
        self._pending = {}
        if (opened) self._fire('disconnected', { code: ev.code, reason: ev.reason })
        if (!self._closing && self.reconnect) self._scheduleReconnect()
      }
    })
  }

  P._scheduleReconnect = function () {
    var self = this
    var delay = Math.min(self.maxBackoff, self.minBackoff * Math.pow(2, self._attempt))
    delay = delay / 2 + Math.random() * delay / 2
    self._attempt++
    self._fire('reconnecting', { attempt: self._attempt, delay: delay })
    self._timer = setTimeout(function () {
      self._timer = null
      self.connect().catch(function () {})
    }, delay)
  }

  /** disconnect closes the socket and stops reconnecting. */
  P.disconnect = function () {
    this._closing = true
    if (this._timer) { clearTimeout(this._timer); this._timer = null }
    if (this._ws) this._ws.close(1000, 'bye')
  }

  P._open = function () {
    return this._ws && this._ws.readyState === 1
  }

  P._send = function (msg) {
    var self = this
    return new Promise(function (resolve, reject) {
      if (!self._open()) {
        reject(new Error('stellar: not connected'))
        return
      }
      var id = ++self._count
      var timer = setTimeout(function () {
        delete self._pending[id]
        reject(new Error('stellar: no answer within ' + self.timeout + 'ms'))
      }, self.timeout)
      self._pending[id] = {
        resolve: function (v) { clearTimeout(timer); resolve(v) },
        reject: function (e) { clearTimeout(timer); reject(e) },
        verb: !!msg.verb
      }
      self._ws.send(JSON.stringify(msg))
    })
  }

  P._verb = function (verb, args) {
    var msg = { verb: verb }
    for (var k in args) msg[k] = args[k]
    return this._send(msg)
  }

  /** action runs an action, over the socket when open, else over HTTP. */
  P.action = function (name, params) {
    var self = this
    params = params || {}
    return self._intercept(params).then(function (r) {
      if (r.response !== undefined) return r.response
      var p = self._open() ? self._send({ action: name, params: params }) : self._http(name, params)
      return p.then(function (res) {
        if (r.after) r.after(res)
        return res
      })
    })
  }

  P._intercept = function (params) {
    var list = this.interceptors.slice()
    return new Promise(function (resolve, reject) {
      var after = null
      var i = 0
      function next (result, error) {
        if (error) { reject(error); return }
        if (typeof result === 'function') { after = result } else if (result !== undefined) {
          resolve({ response: result })
          return
        }
        if (i >= list.length) { resolve({ after: after }); return }
        var fn = list[i++]
        fn(params, next)
      }
      next()
    })
  }

  P._http = function (name, params) {
    var url = this.url + this.apiPath + '/' + encodeURIComponent(name)
    return root.fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(params)
    }).then(function (res) {
      return res.json().then(function (body) {
        if (body.error) throw body.error
        return body
      })
    })
  }

  P.detailsView = function () { return this._verb('detailsView', {}) }
  P.roomAdd = function (room) {
    var self = this
    room = room || self.defaultRoom
    return self._verb('roomAdd', { room: room }).then(function (v) {
      if (self.rooms.indexOf(room) < 0) self.rooms.push(room)
      return v
    })
  }
  P.join = P.roomAdd
  P.roomLeave = function (room) {
    var self = this
    room = room || self.defaultRoom
    return self._verb('roomLeave', { room: room }).then(function (v) {
      self.rooms = self.rooms.filter(function (r) { return r !== room })
      return v
    })
  }
  P.leave = P.roomLeave
  P.roomView = function (room) { return this._verb('roomView', { room: room || this.defaultRoom }) }
  P.paramAdd = function (key, value) { return this._verb('paramAdd', { key: key, value: value }) }
  P.paramView = function (key) { return this._verb('paramView', { key: key }) }
  P.paramDelete = function (key) { return this._verb('paramDelete', { key: key }) }
  P.paramsView = function () { return this._verb('paramsView', {}) }
  P.paramsDelete = function () { return this._verb('paramsDelete', {}) }

  /** say sends a message to a room: say(message) or say(room, message). */
  P.say = function (room, message) {
    if (arguments.length < 2) { message = room; room = this.defaultRoom }
    return this._verb('say', { room: room, message: message })
  }

  /** emit sends an event to the default room, or to the rooms of for(). */
  P.emit = function (event, data) { return this._emit([this.defaultRoom], event, data) }
  P._emit = function (rooms, event, data) {
    var self = this
    return Promise.all(rooms.map(function (room) {
      return self._verb('emit', { room: room, event: event, data: data })
    }))
  }

  /** for(room) chooses the rooms an emit goes to; chainable. */
  P.for = function (rooms) {
    var self = this
    var list = [].concat(rooms)
    var b = {
      for: function (more) { list = list.concat(more); return b },
      emit: function (event, data) { return self._emit(list, event, data) }
    }
    return b
  }

  /** on(event, handler) catches an event; handler(data, message). */
  P.on = function (event, handler) { return this._on(event, null, handler) }
  P._on = function (event, rooms, handler) {
    ;(this._handlers[event] = this._handlers[event] || []).push({ rooms: rooms, fn: handler })
    return this
  }
  P.off = function (event, handler) {
    var hs = this._handlers[event] || []
    this._handlers[event] = hs.filter(function (h) { return h.fn !== handler })
    return this
  }

  /** to(room) filters the rooms an on() listens to; chainable. */
  P.to = function (rooms) {
    var self = this
    var list = [].concat(rooms)
    var b = {
      to: function (more) { list = list.concat(more); return b },
      on: function (event, handler) { self._on(event, list, handler); return self }
    }
    return b
  }

  P._fire = function (event, data, message) {
    var hs = (this._handlers[event] || []).slice()
    var room = message && message.room
    for (var i = 0; i < hs.length; i++) {
      var h = hs[i]
      if (h.rooms && (room === undefined || h.rooms.indexOf(room) < 0)) continue
      try { h.fn(data, message) } catch (e) { if (root.console) root.console.error(e) }
    }
  }

  P._receive = function (raw) {
    var msg
    try { msg = JSON.parse(raw) } catch (e) { this._fire('error', e); return }
    this._fire('message', msg, msg)
    if (msg.context === 'response') {
      var p = msg.messageId !== undefined && this._pending[msg.messageId]
      if (p) {
        delete this._pending[msg.messageId]
        if (msg.error) p.reject(msg.error)
        else p.resolve(p.verb ? msg.data : msg)
      } else if (msg.error) {
        this._fire('error', msg.error, msg)
      }
      return
    }
    if (msg.context === 'user') {
      if (msg.event) this._fire(msg.event, msg.data, msg)
      else this._fire('say', msg, msg)
      return
    }
    if (msg.welcome) { this._fire('welcome', msg, msg); return }
    if (msg.context === 'alert') { this._fire('alert', msg, msg); return }
    this._fire('api', msg, msg)
  }

  root.StellarClient = StellarClient
  if (typeof module !== 'undefined' && module.exports) module.exports = StellarClient
})(typeof window !== 'undefined' ? window : this)
