# SPDX-License-Identifier: ISC
# Included by CMakeLists.txt when RAMPART_PACKAGED is on (debian/rules): the files a
# distribution package ships beyond the programs, the library and the man pages.
# Trusts: the source tree's units and example config.  Each edit below must match
# exactly once, so a change of the sources cannot silently leave a /usr/local path or
# the helper.uninstall write grant in the packaged files (configure fails instead).

set(RAMPART_PKG_DIR ${CMAKE_BINARY_DIR}/packaged)

# rampart_pkg_replace(VAR FROM TO WHAT): replaces FROM by TO in VAR; FROM must occur.
function(rampart_pkg_replace var from to what)
  string(FIND "${${var}}" "${from}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "RAMPART_PACKAGED: ${what}: \"${from}\" not found; "
      "update cmake/packaged.cmake to the changed source file")
  endif()
  string(REPLACE "${from}" "${to}" out "${${var}}")
  set(${var} "${out}" PARENT_SCOPE)
endfunction()

# The units: rampartd from the package's sbin, and no write access to the binary's
# and the units' directories (dpkg owns them; helper.uninstall is told not to remove
# them, see the config below).
file(READ ${CMAKE_SOURCE_DIR}/launchd/systemd/rampartd.service svc)
rampart_pkg_replace(svc "/usr/local/sbin/rampartd " "${CMAKE_INSTALL_FULL_SBINDIR}/rampartd "
  "rampartd.service ExecStart")
rampart_pkg_replace(svc
  "# helper.uninstall: the binary and the unit files\nReadWritePaths=-/usr/local/sbin -/usr/local/lib/systemd/system\n"
  "" "rampartd.service helper.uninstall grant")
if(svc MATCHES "/usr/local/sbin|/usr/local/lib")
  message(FATAL_ERROR "RAMPART_PACKAGED: rampartd.service still names /usr/local/sbin or /usr/local/lib")
endif()
file(WRITE ${RAMPART_PKG_DIR}/rampartd.service "${svc}")
configure_file(${CMAKE_SOURCE_DIR}/launchd/systemd/rampartd.socket
  ${RAMPART_PKG_DIR}/rampartd.socket COPYONLY)
install(FILES ${RAMPART_PKG_DIR}/rampartd.socket ${RAMPART_PKG_DIR}/rampartd.service
  DESTINATION ${RAMPART_SYSTEMD_UNITDIR})

# The default config: the example as shipped (enforcement off, no policy URL, no
# owner: installing changes nothing until an admin configures it), the fetch dropped
# to the package's own user, and nothing of dpkg's for helper.uninstall to remove.
file(READ ${CMAKE_SOURCE_DIR}/launchd/rampartd.json.example cfg)
rampart_pkg_replace(cfg "\"fetch_user\": \"nobody\"" "\"fetch_user\": \"${RAMPART_FETCH_USER}\""
  "rampartd.json fetch_user")
string(REGEX REPLACE "\"unit_files\": \\[[^]\n]*\\]" "\"unit_files\": []" cfg2 "${cfg}")
if(cfg2 STREQUAL cfg)
  message(FATAL_ERROR "RAMPART_PACKAGED: rampartd.json: helper.unit_files not found")
endif()
set(cfg "${cfg2}")
rampart_pkg_replace(cfg "\"binary\": \"/usr/local/sbin/rampartd\"" "\"binary\": \"\""
  "rampartd.json helper.binary")
rampart_pkg_replace(cfg "\"url\": \"\"" "\"url\": \"\"" "rampartd.json policy.url must be empty")
file(WRITE ${RAMPART_PKG_DIR}/rampartd.json "${cfg}")
install(FILES ${RAMPART_PKG_DIR}/rampartd.json
  DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/rampart)
install(DIRECTORY DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/rampart/keys)
install(DIRECTORY DESTINATION ${CMAKE_INSTALL_FULL_LOCALSTATEDIR}/lib/rampart)

# The fetch user (sysusers.d; dh_installsysusers creates it in postinst).
configure_file(${CMAKE_SOURCE_DIR}/launchd/systemd/rampart.sysusers.in
  ${RAMPART_PKG_DIR}/rampart.sysusers @ONLY)
install(FILES ${RAMPART_PKG_DIR}/rampart.sysusers
  DESTINATION ${CMAKE_INSTALL_PREFIX}/lib/sysusers.d RENAME rampart.conf)

# rampart-authz, the Docker authorization plugin: its socket and service from the
# package's sbin, neither enabled nor started by the package (docs/install.md says how
# an admin turns it on; the package's prerm takes it out of daemon.json again).
file(READ ${CMAKE_SOURCE_DIR}/launchd/systemd/rampart-authz.service asvc)
rampart_pkg_replace(asvc "/usr/local/sbin/rampart-authz " "${CMAKE_INSTALL_FULL_SBINDIR}/rampart-authz "
  "rampart-authz.service ExecStart")
rampart_pkg_replace(asvc " -c /etc/rampart/rampartd.json "
  " -c ${CMAKE_INSTALL_FULL_SYSCONFDIR}/rampart/rampartd.json " "rampart-authz.service config")
file(WRITE ${RAMPART_PKG_DIR}/rampart-authz.service "${asvc}")
configure_file(${CMAKE_SOURCE_DIR}/launchd/systemd/rampart-authz.socket
  ${RAMPART_PKG_DIR}/rampart-authz.socket COPYONLY)
install(FILES ${RAMPART_PKG_DIR}/rampart-authz.socket ${RAMPART_PKG_DIR}/rampart-authz.service
  DESTINATION ${RAMPART_SYSTEMD_UNITDIR})

# rampart-proxy (when built): its unit, from the package's sbin, neither enabled nor
# started by the package; the drop-ins that point docker.service and containerd.service
# at it are shipped inert under share/rampart/systemd (installing changes nothing; an
# admin who enforces links them into /etc/systemd/system/ENGINE.service.d/).
if(TARGET rampart-proxy)
  file(READ ${CMAKE_SOURCE_DIR}/launchd/systemd/rampart-proxy.service psvc)
  rampart_pkg_replace(psvc "/usr/local/sbin/rampart-proxy " "${CMAKE_INSTALL_FULL_SBINDIR}/rampart-proxy "
    "rampart-proxy.service ExecStart")
  file(WRITE ${RAMPART_PKG_DIR}/rampart-proxy.service "${psvc}")
  install(FILES ${RAMPART_PKG_DIR}/rampart-proxy.service DESTINATION ${RAMPART_SYSTEMD_UNITDIR})
  foreach(engine docker containerd)
    install(FILES ${CMAKE_SOURCE_DIR}/launchd/systemd/${engine}.service.d/rampart-proxy.conf
      DESTINATION ${CMAKE_INSTALL_DATADIR}/rampart/systemd/${engine}.service.d)
  endforeach()
endif()
