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
