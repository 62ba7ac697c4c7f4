// Package hubload measures the stream hub under the load of a video wall
// fleet: delivery latency from publish to every client, delivered messages
// per second at saturation, and memory per idle connection.
//
// The server (hub, broker, publisher) and the WebSocket clients run in
// separate processes, so ten thousand connections fit in each process's
// open-file limit and the client side's work shows up in its own CPU
// figures. Run starts the server in-process and the clients in a child
// process that re-executes the current binary (`citywall bench hub-clients`);
// the two talk over the child's stdin and stdout, one line per command or
// event.
package hubload
