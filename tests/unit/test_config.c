/* SPDX-License-Identifier: ISC */
/* Config validation: every bad value is refused with an error naming the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

static char dir[64], path[128];

static int setup(void **st)
{
	snprintf(dir, sizeof(dir), "/tmp/rampart-cfg-XXXXXX");
	assert_non_null(mkdtemp(dir));
	chmod(dir, 0755);
	snprintf(path, sizeof(path), "%s/rampartd.json", dir);
	return 0;
}

static int teardown(void **st)
{
	unlink(path);
	rmdir(dir);
	return 0;
}

static int load(const char *json, struct config *c, struct rp_err *e, int check_owner)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(json, f);
	fclose(f);
	chmod(path, 0644);
	config_defaults(c);
	return config_load(c, path, check_owner, e);
}

static void test_defaults_and_valid(void **st)
{
	struct config c;
	struct rp_err e;
	assert_int_equal(load("{\"socket\":\"/run/x.sock\",\"state_dir\":\"/var/x\","
	                      "\"owner_user\":\"nobody\",\"ports\":{\"allow\":[[80,80],[443,443]],"
	                      "\"deny\":[22]},\"links\":{\"names\":[\"docker\"]}}",
	                      &c, &e, 1),
	                 0);
	assert_string_equal(c.socket_path, "/run/x.sock");
	assert_string_equal(c.db_path, "/var/x/policy.db");
	assert_int_equal(c.owner_uid, 65534);
	assert_int_equal(c.ports.n_allow, 2);
	assert_int_equal(c.ports.deny[0], 22);
	assert_int_equal(c.limits.max_frame, 65536);
	assert_string_equal(c.hosts.names[0].name, "kubernetes.docker.internal");
	assert_int_equal(c.enforce.mode, ENFORCE_OFF);
	assert_string_equal(c.enforce.containers_policy, "/etc/containers/policy.json");
	assert_true(c.enforce.wildcard_scopes);
	assert_int_equal(load("{\"enforce\": {\"mode\": \"warn\", \"containers_policy\": "
	                      "\"/x/p.json\", \"wildcard_scopes\": false}}",
	                      &c, &e, 1),
	                 0);
	assert_int_equal(c.enforce.mode, ENFORCE_WARN);
	assert_string_equal(c.enforce.containers_policy, "/x/p.json");
	assert_false(c.enforce.wildcard_scopes);
	assert_string_equal(config_enforce_mode_name(c.enforce.mode), "warn");
	assert_string_equal(c.enforce.proxy.listen, "127.0.0.1:3128");
	assert_string_equal(c.enforce.proxy.stats_file, "/run/rampart-proxy/stats.json");
	assert_int_equal(load("{\"enforce\": {\"proxy\": {\"listen\": \"127.3.0.1:4000\", "
	                      "\"stats_file\": \"\"}}}",
	                      &c, &e, 1),
	                 0);
	assert_string_equal(c.enforce.proxy.listen, "127.3.0.1:4000");
	assert_string_equal(c.enforce.proxy.stats_file, "");
	assert_int_equal(
	    load("{\"enforce\": {\"proxy\": {\"listen\": \"[::1]:3128\"}}}", &c, &e, 1), 0);
}

static void test_bad_values(void **st)
{
	static const struct {
		const char *json, *needle;
	} cases[] = {
	    {"[]", "top level"},
	    {"{\"socket\": 5}", "socket must be a string"},
	    {"{\"socket\": \"rel\"}", "absolute"},
	    {"{\"nope\": 1}", "unknown key \"nope\""},
	    {"{\"limits\": {\"max_connections\": 0}}", "limits.max_connections"},
	    {"{\"limits\": {\"max_frame\": 70000}}", "limits.max_frame"},
	    {"{\"limits\": {\"extra\": 1}}", "limits.extra"},
	    {"{\"ports\": {\"allow\": [[1, 2000]]}}", "ports.allow[0]"},
	    {"{\"ports\": {\"allow\": [[90, 80]]}}", "ports.allow[0]"},
	    {"{\"ports\": {\"deny\": [0]}}", "ports.deny[0]"},
	    {"{\"links\": {\"names\": [\"../x\"]}}", "links.names[0]"},
	    {"{\"links\": {\"names\": [\"a\\nb\"]}}", "links.names[0]"},
	    {"{\"links\": {\"bin_dir\": \"bin\"}}", "links.bin_dir"},
	    {"{\"owner_user\": \"no-such-user-rampart\"}", "owner_user"},
	    {"{\"admin_group\": \"no-such-group-rampart\"}", "admin_group"},
	    {"{\"policy\": {\"url\": \"http://example.com/p\", \"keys\": [\"/k\"], \"org\": "
	     "\"o\"}}",
	     "https://"},
	    {"{\"policy\": {\"url\": \"https://example.com/p\", \"org\": \"o\"}}",
	     "neither policy.keys nor a root"},
	    {"{\"policy\": {\"url\": \"https://example.com/p\", \"keys\": [\"/k\"]}}",
	     "policy.org"},
	    {"{\"policy\": {\"keys\": [\"/a\"], \"threshold\": 2}}", "threshold"},
	    {"{\"policy\": {\"keys\": [\"rel.pem\"]}}", "policy.keys[0]"},
	    {"{\"socket_link\": {\"target\": \"../../etc/shadow\"}}", "socket_link.target"},
	    {"{\"socket\": \"/a\", \"socket\": \"/b\"}", "duplicate"},
	    {"{\"audit_log\": \"/tmp/a\\u0001\"}", "control"},
	    {"{\"hosts\": {\"names\": {\"bad name\": \"127.0.0.1\"}}}", "not a valid hostname"},
	    {"{\"hosts\": {\"names\": {\"a\\nb\": \"127.0.0.1\"}}}", "not a valid hostname"},
	    {"{\"hosts\": {\"names\": {\"ok.example\": \"300.1.1.1\"}}}", "IPv4 or IPv6"},
	    {"{\"enforce\": {\"mode\": \"on\"}}", "enforce.mode must be"},
	    {"{\"enforce\": {\"mode\": \"\"}}", "enforce.mode must be"},
	    {"{\"enforce\": {\"mode\": true}}", "enforce.mode must be a string"},
	    {"{\"enforce\": {\"containers_policy\": \"policy.json\"}}", "absolute"},
	    {"{\"enforce\": {\"containers_policy\": \"\"}}", "enforce.containers_policy"},
	    {"{\"enforce\": {\"containers_policy\": \"/etc/containers/\"}}", "path of a file"},
	    {"{\"enforce\": {\"wildcard_scopes\": 1}}", "enforce.wildcard_scopes"},
	    {"{\"enforce\": {\"docker\": {\"socket\": \"\"}}}",
	     "enforce.docker.socket must not be empty"},
	    {"{\"enforce\": {\"docker\": {\"nope\": 1}}}", "enforce.docker"},
	    {"{\"enforce\": []}", "enforce must be an object"},
	    /* rampart-proxy serves loopback only: anything else is refused here, by name */
	    {"{\"enforce\": {\"proxy\": {\"listen\": \"0.0.0.0:3128\"}}}",
	     "enforce.proxy.listen \"0.0.0.0:3128\" is not a loopback"},
	    {"{\"enforce\": {\"proxy\": {\"listen\": \"10.0.0.1:3128\"}}}", "enforce.proxy.listen"},
	    {"{\"enforce\": {\"proxy\": {\"listen\": \"[::]:3128\"}}}", "enforce.proxy.listen"},
	    {"{\"enforce\": {\"proxy\": {\"listen\": \"[::ffff:10.0.0.1]:3128\"}}}",
	     "enforce.proxy.listen"},
	    {"{\"enforce\": {\"proxy\": {\"listen\": \"localhost:3128\"}}}",
	     "enforce.proxy.listen"},
	    {"{\"enforce\": {\"proxy\": {\"listen\": \"127.0.0.1\"}}}", "enforce.proxy.listen"},
	    {"{\"enforce\": {\"proxy\": {\"listen\": \"127.0.0.1:0\"}}}", "enforce.proxy.listen"},
	    {"{\"enforce\": {\"proxy\": {\"listen\": \"127.0.0.1:+80\"}}}", "enforce.proxy.listen"},
	    {"{\"enforce\": {\"proxy\": {\"listen\": \"127.0.0.1:65536\"}}}",
	     "enforce.proxy.listen"},
	    {"{\"enforce\": {\"proxy\": {\"listen\": 3128}}}",
	     "enforce.proxy.listen must be a string"},
	    {"{\"enforce\": {\"proxy\": {\"stats_file\": \"stats.json\"}}}", "absolute"},
	    {"{\"enforce\": {\"proxy\": {\"user\": \"x\"}}}", "unknown key \"enforce.proxy.user\""},
	    {"{\"enforce\": {\"proxy\": \"127.0.0.1:3128\"}}", "enforce.proxy must be an object"},
	};
	struct config c;
	struct rp_err e;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&e, 0, sizeof(e));
		if (load(cases[i].json, &c, &e, 1) != -1 || strstr(e.msg, cases[i].needle) == NULL)
			fail_msg("case %zu (%s): got \"%s\"", i, cases[i].json, e.msg);
		assert_non_null(strstr(e.msg, path)); /* every message names the file */
	}
}

static void test_insecure_modes(void **st)
{
	struct config c;
	struct rp_err e;
	assert_int_equal(load("{}", &c, &e, 1), 0);
	chmod(path, 0664);
	config_defaults(&c);
	assert_int_equal(config_load(&c, path, 1, &e), -1);
	assert_string_equal(e.code, "E_CONFIG_INSECURE");
	assert_non_null(strstr(e.msg, path));
	chmod(path, 0644);
	chmod(dir, 0777);
	assert_int_equal(config_load(&c, path, 1, &e), -1);
	assert_non_null(strstr(e.msg, "config directory"));
	assert_non_null(strstr(e.msg, "chmod go-w"));
	/* a sticky shared directory (/tmp): never suggest a chmod that breaks the system */
	chmod(dir, 01777);
	assert_int_equal(config_load(&c, path, 1, &e), -1);
	assert_null(strstr(e.msg, "chmod"));
	assert_non_null(strstr(e.msg, "Move the config"));
	chmod(dir, 0755);
	assert_int_equal(config_load(&c, path, 1, &e), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults_and_valid),
	    cmocka_unit_test(test_bad_values),
	    cmocka_unit_test(test_insecure_modes),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
