# `cmake --install build --prefix P`: headers, libcyclegc (shared, with SONAME, and static),
# cyclegc::gtest, the agent, cyclegc-report, the CMake package and a pkg-config file.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS cyclegc cyclegc_static EXPORT cyclegcTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# cyclegc::gtest in an export set of its own: a consumer without GoogleTest can still use the
# rest (the `gtest` component of find_package).
install(TARGETS cyclegc_gtest EXPORT cyclegcGTestTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY lib/include/cyclegc DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS cyclegc_agent cyclegc_agent_core cyclegc_agent_heap LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS cyclegc-report RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

set(config_dir ${CMAKE_INSTALL_LIBDIR}/cmake/cyclegc)
install(EXPORT cyclegcTargets NAMESPACE cyclegc:: DESTINATION ${config_dir})
install(EXPORT cyclegcGTestTargets NAMESPACE cyclegc:: DESTINATION ${config_dir})
configure_package_config_file(cmake/cyclegcConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/cyclegcConfig.cmake
  INSTALL_DESTINATION ${config_dir}
  PATH_VARS CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_BINDIR)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/cyclegcConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/cyclegcConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/cyclegcConfigVersion.cmake
        DESTINATION ${config_dir})

file(RELATIVE_PATH PC_PREFIX_FROM_PCDIR /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
configure_file(cmake/cyclegc.pc.in ${CMAKE_CURRENT_BINARY_DIR}/cyclegc.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/cyclegc.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
