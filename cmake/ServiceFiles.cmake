# Service-manager files for kresd: systemd units, sysusers.d/tmpfiles.d
# snippets and kresd.systemd(7); the OpenRC script and conf.d file; FreeBSD
# and OpenBSD rc.d scripts; the launchd property-list template and its
# generator.
#
# Use from the top-level CMakeLists.txt:
#     include(cmake/ServiceFiles.cmake)
# It needs nothing else from the project, so it can also be included from a
# stand-alone test project.
#
# Every *_DIR default below is relative, i.e. under the install prefix, so
# "cmake --install build --prefix /tmp/x" keeps everything inside /tmp/x.
# They are STRING, not PATH, cache entries: CMake would turn a relative PATH
# given with -D into an absolute one under the current directory.
# Packagers set absolute paths where their system wants them, e.g.
#     -DCMAKE_INSTALL_PREFIX=/usr
#     -DKRESD_SYSTEMD_UNITDIR=/usr/lib/systemd/system   (the default, under /usr)
#     -DKRESD_OPENRC_INITDIR=/etc/init.d -DKRESD_OPENRC_CONFDIR=/etc/conf.d
#     -DKRESD_OPENBSD_RCDIR=/etc/rc.d
# All install rules belong to the component "service-files", so they can be
# installed on their own: cmake --install build --component service-files
# Paths written *into* the files (the kresd binary, the config file) are fixed
# when CMake configures, from CMAKE_INSTALL_PREFIX and the variables here.

include(GNUInstallDirs)

get_filename_component(_kresd_svc_src "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set(_kresd_svc_out "${CMAKE_CURRENT_BINARY_DIR}/service-files")

# ---- what goes into the files ----
set(KRESD_USER "knot-resolver" CACHE STRING "Account the service runs as")
set(KRESD_GROUP "knot-resolver" CACHE STRING "Group of that account")
set(KRESD_CONFIG_FILE "${CMAKE_INSTALL_FULL_SYSCONFDIR}/knot-resolver/kresd.conf"
    CACHE FILEPATH "Configuration file the service files pass to kresd with -c")

# ---- which sets of files, and where ----
set(_kresd_linux OFF)
set(_kresd_freebsd OFF)
set(_kresd_openbsd OFF)
set(_kresd_apple OFF)
if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  set(_kresd_linux ON)
elseif(CMAKE_SYSTEM_NAME STREQUAL "FreeBSD")
  set(_kresd_freebsd ON)
elseif(CMAKE_SYSTEM_NAME STREQUAL "OpenBSD")
  set(_kresd_openbsd ON)
elseif(APPLE)
  set(_kresd_apple ON)
endif()

option(KRESD_INSTALL_SYSTEMD "Install systemd units, sysusers.d/tmpfiles.d snippets, kresd.systemd(7)" ${_kresd_linux})
option(KRESD_INSTALL_OPENRC "Install the OpenRC script and its conf.d file" ${_kresd_linux})
option(KRESD_INSTALL_FREEBSD_RC "Install the FreeBSD rc.d script" ${_kresd_freebsd})
option(KRESD_INSTALL_OPENBSD_RC "Install the OpenBSD rc.d script" ${_kresd_openbsd})
option(KRESD_INSTALL_LAUNCHD "Install the launchd plist template and generate-plists" ${_kresd_apple})

set(KRESD_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING "systemd system unit directory")
set(KRESD_SYSUSERS_DIR "lib/sysusers.d" CACHE STRING "sysusers.d directory")
set(KRESD_TMPFILES_DIR "lib/tmpfiles.d" CACHE STRING "tmpfiles.d directory")
set(KRESD_MAN7_DIR "${CMAKE_INSTALL_MANDIR}/man7" CACHE STRING "Section 7 manual pages")
set(KRESD_OPENRC_INITDIR "${CMAKE_INSTALL_SYSCONFDIR}/init.d" CACHE STRING "OpenRC init.d directory")
set(KRESD_OPENRC_CONFDIR "${CMAKE_INSTALL_SYSCONFDIR}/conf.d" CACHE STRING "OpenRC conf.d directory")
set(KRESD_FREEBSD_RCDIR "${CMAKE_INSTALL_SYSCONFDIR}/rc.d" CACHE STRING "FreeBSD rc.d directory (ports: PREFIX/etc/rc.d)")
set(KRESD_OPENBSD_RCDIR "${CMAKE_INSTALL_SYSCONFDIR}/rc.d" CACHE STRING "OpenBSD rc.d directory (normally /etc/rc.d)")
set(KRESD_LAUNCHD_DIR "${CMAKE_INSTALL_DATADIR}/kresd/launchd" CACHE STRING "Where the launchd template and generator go")
set(KRESD_LAUNCHD_RUNDIR "${CMAKE_INSTALL_FULL_LOCALSTATEDIR}/knot-resolver"
    CACHE PATH "rundir (shared cache, control sockets) of launchd instances")
set(KRESD_LAUNCHD_LOGDIR "${CMAKE_INSTALL_FULL_LOCALSTATEDIR}/log"
    CACHE PATH "Directory for the launchd instances' stdout/stderr logs")

if(KRESD_INSTALL_FREEBSD_RC AND KRESD_INSTALL_OPENBSD_RC
   AND KRESD_FREEBSD_RCDIR STREQUAL KRESD_OPENBSD_RCDIR)
  message(FATAL_ERROR "The FreeBSD and OpenBSD rc.d scripts would both be installed as "
    "${KRESD_FREEBSD_RCDIR}/kresd: set KRESD_FREEBSD_RCDIR or KRESD_OPENBSD_RCDIR elsewhere, "
    "or turn one of KRESD_INSTALL_FREEBSD_RC/KRESD_INSTALL_OPENBSD_RC off.")
endif()

# The FreeBSD script runs itself once per profile and, at boot, is sourced by
# rc(8), where $0 is not its path; so it needs its installed path spelled out.
if(IS_ABSOLUTE "${KRESD_FREEBSD_RCDIR}")
  set(KRESD_FREEBSD_RCSCRIPT "${KRESD_FREEBSD_RCDIR}/kresd")
else()
  set(KRESD_FREEBSD_RCSCRIPT "${CMAKE_INSTALL_PREFIX}/${KRESD_FREEBSD_RCDIR}/kresd")
endif()

function(_kresd_svc_configure in out)
  configure_file("${_kresd_svc_src}/${in}" "${_kresd_svc_out}/${out}" @ONLY)
endfunction()

# ---- systemd ----
if(KRESD_INSTALL_SYSTEMD)
  _kresd_svc_configure(systemd/kresd@.service.in systemd/kresd@.service)
  _kresd_svc_configure(systemd/kresd-control@.socket.in systemd/kresd-control@.socket)
  _kresd_svc_configure(systemd/kresd.systemd.7.in systemd/kresd.systemd.7)
  _kresd_svc_configure(systemd/sysusers.d/kresd.conf.in systemd/sysusers.d/kresd.conf)
  _kresd_svc_configure(systemd/tmpfiles.d/kresd.conf.in systemd/tmpfiles.d/kresd.conf)
  install(FILES
      "${_kresd_svc_out}/systemd/kresd@.service"
      "${_kresd_svc_out}/systemd/kresd-control@.socket"
      "${_kresd_svc_src}/systemd/kresd.target"
      "${_kresd_svc_src}/systemd/kresd.socket"
      "${_kresd_svc_src}/systemd/kresd-tls.socket"
      "${_kresd_svc_src}/systemd/kresd-doh.socket"
    DESTINATION "${KRESD_SYSTEMD_UNITDIR}" COMPONENT service-files)
  install(FILES "${_kresd_svc_out}/systemd/sysusers.d/kresd.conf" DESTINATION "${KRESD_SYSUSERS_DIR}" COMPONENT service-files)
  install(FILES "${_kresd_svc_out}/systemd/tmpfiles.d/kresd.conf" DESTINATION "${KRESD_TMPFILES_DIR}" COMPONENT service-files)
  install(FILES "${_kresd_svc_out}/systemd/kresd.systemd.7" DESTINATION "${KRESD_MAN7_DIR}" COMPONENT service-files)
endif()

# ---- OpenRC ----
if(KRESD_INSTALL_OPENRC)
  _kresd_svc_configure(init/openrc/kresd.in init/openrc/kresd)
  _kresd_svc_configure(init/openrc/conf.d/kresd.in init/openrc/conf.d/kresd)
  install(PROGRAMS "${_kresd_svc_out}/init/openrc/kresd" DESTINATION "${KRESD_OPENRC_INITDIR}" COMPONENT service-files)
  install(FILES "${_kresd_svc_out}/init/openrc/conf.d/kresd" DESTINATION "${KRESD_OPENRC_CONFDIR}" COMPONENT service-files)
endif()

# ---- FreeBSD ----
if(KRESD_INSTALL_FREEBSD_RC)
  _kresd_svc_configure(init/freebsd/kresd.in init/freebsd/kresd)
  install(PROGRAMS "${_kresd_svc_out}/init/freebsd/kresd" DESTINATION "${KRESD_FREEBSD_RCDIR}" COMPONENT service-files)
endif()

# ---- OpenBSD ----
if(KRESD_INSTALL_OPENBSD_RC)
  _kresd_svc_configure(init/openbsd/kresd.in init/openbsd/kresd)
  install(PROGRAMS "${_kresd_svc_out}/init/openbsd/kresd" DESTINATION "${KRESD_OPENBSD_RCDIR}" COMPONENT service-files)
endif()

# ---- launchd ----
if(KRESD_INSTALL_LAUNCHD)
  # The configured template still holds %INSTANCE% where the instance name
  # goes; generate-plists (installed next to it) fills that in.
  _kresd_svc_configure(launchd/org.knot-resolver.kresd.plist.in launchd/org.knot-resolver.kresd.plist.template)
  install(FILES "${_kresd_svc_out}/launchd/org.knot-resolver.kresd.plist.template" DESTINATION "${KRESD_LAUNCHD_DIR}" COMPONENT service-files)
  install(PROGRAMS "${_kresd_svc_src}/launchd/generate-plists" DESTINATION "${KRESD_LAUNCHD_DIR}" COMPONENT service-files)
endif()
