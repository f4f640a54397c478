/* SPDX-License-Identifier: ISC */
/*
 * port.bind: create, bind (and for TCP listen on) a privileged port for the
 * desktop user and hand the socket back with SCM_RIGHTS.  The request is
 * client-controlled: protocol, address and port are checked against the
 * config's allow/deny lists; only loopback, or the any-address when the
 * config allows it, may be bound.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "compat.h"
#include "daemon.h"
#include "op_handlers.h"

static const char *port_errno_name(int e)
{
	switch (e) {
	case EADDRINUSE:
		return "EADDRINUSE";
	case EADDRNOTAVAIL:
		return "EADDRNOTAVAIL";
	case EACCES:
		return "EACCES";
	case EAFNOSUPPORT:
		return "EAFNOSUPPORT";
	case EMFILE:
		return "EMFILE";
	case ENFILE:
		return "ENFILE";
	case ENOBUFS:
		return "ENOBUFS";
	case EINVAL:
		return "EINVAL";
	default:
		return "E_BIND";
	}
}

/*
 * Ports of system daemons a user must never impersonate, whatever the config
 * says: clients on this machine trust whoever answers there on loopback with
 * passwords, mail, name and time lookups, tickets or print jobs.  Documented
 * in rampartd.json(5) (ports.deny).
 */
static const struct {
	int port;
	const char *who;
} port_builtin_deny[] = {
    {22, "sshd (logins, keys, passwords)"},
    {25, "the mail server (SMTP)"},
    {53, "the DNS resolver"},
    {88, "Kerberos (tickets)"},
    {111, "rpcbind (NFS, NIS)"},
    {123, "NTP (the clock)"},
    {389, "LDAP (accounts)"},
    {464, "Kerberos password changes"},
    {587, "mail submission"},
    {631, "CUPS (printing, its admin UI)"},
    {636, "LDAP over TLS (accounts)"},
    {749, "Kerberos administration"},
};

static int port_builtin_denied(long long port, struct rp_err *err)
{
	for (size_t i = 0; i < sizeof(port_builtin_deny) / sizeof(port_builtin_deny[0]); i++)
		if (port_builtin_deny[i].port == port)
			return rp_seterr(err, "E_PORT_DENIED",
			                 "port %lld belongs to %s, which no user may impersonate "
			                 "(rampartd's built-in deny list); nothing was bound (pick "
			                 "another port)",
			                 port, port_builtin_deny[i].who);
	return 0;
}

static int port_allowed(const struct config *c, long long port, struct rp_err *err)
{
	int ok = 0;

	if (port >= 1024)
		return rp_seterr(err, "E_PORT_DENIED",
		                 "port %lld is not privileged; bind it yourself (rampartd only "
		                 "binds ports below 1024)",
		                 port);
	if (port_builtin_denied(port, err) < 0)
		return -1;
	for (int i = 0; i < c->ports.n_deny; i++)
		if (c->ports.deny[i] == port)
			return rp_seterr(err, "E_PORT_DENIED",
			                 "port %lld is in ports.deny of rampartd.json; nothing was "
			                 "bound (pick another port or ask an administrator)",
			                 port);
	for (int i = 0; i < c->ports.n_allow; i++)
		ok |= port >= c->ports.allow[i].lo && port <= c->ports.allow[i].hi;
	if (!ok)
		return rp_seterr(err, "E_PORT_DENIED",
		                 "port %lld is outside ports.allow of rampartd.json; nothing was "
		                 "bound (pick an allowed port or ask an administrator)",
		                 port);
	return 0;
}

/* Parses addr into ss; only loopback, or the any-address when allowed. */
static int port_addr(const struct config *c, const char *addr, int port,
                     struct sockaddr_storage *ss, socklen_t *sl, struct rp_err *err)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	int any;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*sl = sizeof(*s4);
		any = s4->sin_addr.s_addr == htonl(INADDR_ANY);
		if ((ntohl(s4->sin_addr.s_addr) >> 24) == 127)
			return 0;
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*sl = sizeof(*s6);
		any = IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
		if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			return 0;
	} else {
		return rp_seterr(err, "E_ARGS", "addr must be an IPv4 or IPv6 literal");
	}
	if (any && c->ports.allow_any_address)
		return 0;
	return rp_seterr(err, "E_ADDR_DENIED",
	                 any ? "binding the any-address is disabled (ports.allow_any_address)"
	                     : "only loopback (or the any-address, if the config allows) may be "
	                       "bound");
}

int op_port_bind(struct op_ctx *ctx)
{
	static const char *const known[] = {"proto", "addr", "port", "backlog", "v6only", NULL};
	const char *proto = NULL, *addr = NULL;
	long long port = 0, backlog = 128;
	int v6only = -1, udp, fd = -1, one = 1;
	struct sockaddr_storage ss;
	socklen_t sl = 0;

	if (args_only(ctx->args, known, &ctx->err) < 0 ||
	    args_string(ctx->args, "proto", 0, &proto, &ctx->err) < 0 ||
	    args_string(ctx->args, "addr", 0, &addr, &ctx->err) < 0 ||
	    args_int(ctx->args, "port", 1, 1, 65535, &port, &ctx->err) < 0 ||
	    args_int(ctx->args, "backlog", 0, 0, 4096, &backlog, &ctx->err) < 0 ||
	    args_bool(ctx->args, "v6only", 0, &v6only, &ctx->err) < 0)
		return OP_ERR;
	if (proto == NULL)
		proto = "tcp";
	if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0)
		return rp_seterr(&ctx->err, "E_ARGS", "proto must be \"tcp\" or \"udp\"");
	udp = proto[0] == 'u';
	if (udp && !ctx->d->cfg.ports.allow_udp)
		return rp_seterr(&ctx->err, "E_PORT_DENIED",
		                 "UDP binding is disabled (ports.allow_udp in rampartd.json): a "
		                 "bound UDP socket can also send from the privileged port; nothing "
		                 "was bound");
	if (backlog == 0)
		backlog = 128;
	if (port_allowed(&ctx->d->cfg, port, &ctx->err) < 0 ||
	    port_addr(&ctx->d->cfg, addr ? addr : "127.0.0.1", (int)port, &ss, &sl, &ctx->err) < 0)
		return OP_ERR;
	fd = rp_socket_cloexec(ss.ss_family, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
	if (fd < 0)
		return rp_seterr(&ctx->err, port_errno_name(errno),
		                 "cannot create a %s socket: %s; nothing was bound", proto,
		                 strerror(errno));
	if (!udp)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6 && v6only >= 0)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || (!udp && listen(fd, (int)backlog) < 0)) {
		int e = errno;
		close(fd);
		return rp_seterr(&ctx->err, port_errno_name(e),
		                 "cannot bind %s %s port %lld: %s; nothing was bound%s", proto,
		                 addr ? addr : "127.0.0.1", port, strerror(e),
		                 e == EADDRINUSE
		                     ? " (another process holds the port: stop it or pick "
		                       "another)"
		                     : "");
	}
	ctx->out_fd = fd;
	ctx->result = json_pack("{s:s, s:s, s:I}", "proto", proto, "addr",
	                        addr ? addr : "127.0.0.1", "port", (json_int_t)port);
	return OP_OK;
}
