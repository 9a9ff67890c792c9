# What an operator installs: the man pages (made from each program's
# --help), the install layout, and the Debian package (CPack's DEB
# generator; `tools/dev package` runs it). Included last by CMakeLists.txt.
include(GNUInstallDirs)
find_package(Python3 REQUIRED COMPONENTS Interpreter)

# name -> section, and the target whose --help fills the page's OPTIONS.
set(STUNRING_MAN_PAGES stunringd:8 stunring-bench:1 stunring-passwd:1)
set(man_outputs "")
foreach(entry ${STUNRING_MAN_PAGES})
  string(REPLACE ":" ";" parts ${entry})
  list(GET parts 0 program)
  list(GET parts 1 section)
  set(template ${PROJECT_SOURCE_DIR}/deploy/man/${program}.${section}.in)
  set(page ${PROJECT_BINARY_DIR}/man/${program}.${section})
  set(gzipped ${page}.gz)
  add_custom_command(
    OUTPUT ${page} ${gzipped}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
    COMMAND Python3::Interpreter ${PROJECT_SOURCE_DIR}/deploy/man/mkman.py
            $<TARGET_FILE:${program}> ${template} ${page} ${PROJECT_VERSION}
    # -n: no name or time in the header, so the package is reproducible.
    COMMAND gzip -9 -n -c ${page} > ${gzipped}
    DEPENDS ${program} ${template} ${PROJECT_SOURCE_DIR}/deploy/man/mkman.py
    COMMENT "man page ${program}(${section}) from ${program} --help"
    VERBATIM)
  list(APPEND man_outputs ${page} ${gzipped})
  install(FILES ${gzipped} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
add_custom_target(man ALL DEPENDS ${man_outputs})

if(STUNRING_TESTS)
  # Fails when a flag of --help is missing from the page or the other way
  # round, when the page names a flag no program has, or when mandoc -T lint
  # finds anything.
  add_test(NAME man_pages
           COMMAND Python3::Interpreter ${PROJECT_SOURCE_DIR}/tests/deploy/check_man.py
                   --man-dir ${PROJECT_BINARY_DIR}/man
                   stunringd.8=$<TARGET_FILE:stunringd>
                   stunring-bench.1=$<TARGET_FILE:stunring-bench>
                   stunring-passwd.1=$<TARGET_FILE:stunring-passwd>)
  set_tests_properties(man_pages PROPERTIES LABELS deploy TIMEOUT 60)
endif()

if(STUNRING_TESTS)
  # The systemd unit: systemd-analyze verify silent, security 2.0 or lower.
  add_test(NAME systemd_unit
           COMMAND Python3::Interpreter ${PROJECT_SOURCE_DIR}/tests/deploy/check_unit.py
                   ${PROJECT_SOURCE_DIR}/deploy/systemd/stunringd.service
                   $<TARGET_FILE:stunringd> ${PROJECT_BINARY_DIR}/man)
  set_tests_properties(systemd_unit PROPERTIES LABELS deploy TIMEOUT 120)
endif()

if(STUNRING_TESTS)
  # The sysctl.d file: keys this kernel knows, each with its why, and at
  # least what stunringd's defaults ask for.
  add_test(NAME sysctl_conf
           COMMAND Python3::Interpreter ${PROJECT_SOURCE_DIR}/tests/deploy/check_sysctl.py
                   ${PROJECT_SOURCE_DIR}/deploy/sysctl/90-stunring.conf $<TARGET_FILE:stunringd>)
  set_tests_properties(sysctl_conf PROPERTIES LABELS deploy TIMEOUT 60)
endif()

# ---------------------------------------------------------------- install
# Paths relative to the prefix (/usr in the package): the programs, the
# unit and the sysctl file where Debian looks for a package's own, the
# flags in /etc/default (a conffile: an operator's edits survive upgrades).
# Full RELRO for what ships (lintian's hardening-no-bindnow): the GOT is
# read-only once the libraries are resolved at start.
foreach(program stunringd stunring-bench stunring-passwd)
  target_link_options(${program} PRIVATE "LINKER:-z,relro,-z,now")
endforeach()
install(TARGETS stunringd DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(TARGETS stunring-bench stunring-passwd DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/stunringd.service
        DESTINATION lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/sysctl/90-stunring.conf DESTINATION lib/sysctl.d)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/default/stunringd DESTINATION /etc/default)

set(debian ${PROJECT_SOURCE_DIR}/deploy/debian)
configure_file(${debian}/changelog.in ${PROJECT_BINARY_DIR}/debian/changelog @ONLY)
add_custom_command(
  OUTPUT ${PROJECT_BINARY_DIR}/debian/changelog.gz
  COMMAND gzip -9 -n -c ${PROJECT_BINARY_DIR}/debian/changelog >
          ${PROJECT_BINARY_DIR}/debian/changelog.gz
  DEPENDS ${PROJECT_BINARY_DIR}/debian/changelog
  VERBATIM)
add_custom_target(debian_changelog ALL DEPENDS ${PROJECT_BINARY_DIR}/debian/changelog.gz)
install(FILES ${debian}/copyright ${PROJECT_BINARY_DIR}/debian/changelog.gz
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# ---------------------------------------------------------------- the .deb
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME stunring)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT
    "stunring maintainers <maintainers@users.noreply.r-seed-066c76d7.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "STUN server with per-core io_uring workers")
# The extended description (CPack puts the summary above it and indents).
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "stunringd answers STUN (RFC 3489, 5389, 8489, 5780) over UDP, TCP and TLS,
with one pinned worker per core receiving through io_uring (recvmmsg where
io_uring is not available), short-term and long-term credentials, a
reflection cap per client prefix and a hardened systemd unit.
.
The package also ships stunring-bench, a load generator that checks every
answer, and stunring-passwd, which makes lines of the users file.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # stunring_VERSION_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends: what dpkg-shlibdeps finds the binaries link (liburing2, libssl3,
# libjemalloc2, libc6), plus the postinst's adduser.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${debian}/postinst ${debian}/prerm ${debian}/postrm ${debian}/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/package)
include(CPack)

# The package installed with apt, run, and purged (tests/deploy/
# test_package.py). Only for the build that ships: Release, no sanitizer.
if(STUNRING_TESTS AND CMAKE_BUILD_TYPE STREQUAL "Release" AND NOT STUNRING_SANITIZED)
  add_test(NAME package_deb
           COMMAND Python3::Interpreter ${PROJECT_SOURCE_DIR}/tests/deploy/test_package.py
                   --build-dir ${PROJECT_BINARY_DIR} --version ${PROJECT_VERSION})
  # dpkg's lock is one per machine: nothing else installs meanwhile.
  set_tests_properties(package_deb PROPERTIES LABELS "package;e2e" TIMEOUT 900 RUN_SERIAL TRUE)
endif()

if(STUNRING_TESTS)
  # deploy/kubernetes/: yamllint, the API's schemas (npm kubernetes-models,
  # installed into the build tree on first use), what the issue asks.
  add_test(NAME kubernetes_manifests
           COMMAND Python3::Interpreter ${PROJECT_SOURCE_DIR}/tests/deploy/check_kubernetes.py
                   ${PROJECT_SOURCE_DIR}/deploy/kubernetes ${PROJECT_BINARY_DIR}/deploy-npm
                   $<TARGET_FILE:stunringd>)
  set_tests_properties(kubernetes_manifests PROPERTIES LABELS deploy TIMEOUT 400)
endif()

# The container image built with podman (runc) and run with host
# networking (tests/deploy/test_container.py): the build that ships only.
if(STUNRING_TESTS AND CMAKE_BUILD_TYPE STREQUAL "Release" AND NOT STUNRING_SANITIZED)
  add_test(NAME container_image
           COMMAND Python3::Interpreter ${PROJECT_SOURCE_DIR}/tests/deploy/test_container.py
                   --source ${PROJECT_SOURCE_DIR} --version ${PROJECT_VERSION})
  set_tests_properties(container_image PROPERTIES LABELS "container;e2e" TIMEOUT 1800
                                                  RUN_SERIAL TRUE)
endif()
