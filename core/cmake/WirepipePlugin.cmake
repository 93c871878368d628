# wp_add_plugin(<name> SOURCES <file>... [LIBS <target>...] [INCLUDES <dir>...])
#
# The one recipe for a stage plugin: a MODULE library named exactly <name>.so that
# exports only wp_plugin_<name>, links without undefined symbols, and installs into
# the plugin folder. Used in-tree and, installed, by out-of-tree plugins.
include_guard(GLOBAL)

if(NOT COMMAND wp_set_warnings)
    include(${CMAKE_CURRENT_LIST_DIR}/Warnings.cmake)
endif()

function(wp_add_plugin name)
    cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;INCLUDES" ${ARGN})
    if(NOT ARG_SOURCES)
        message(FATAL_ERROR "wp_add_plugin(${name}): SOURCES is required")
    endif()
    add_library(${name} MODULE ${ARG_SOURCES})
    set_target_properties(${name} PROPERTIES
        PREFIX ""
        C_VISIBILITY_PRESET hidden
        C_STANDARD 11
        C_EXTENSIONS OFF)
    if(WP_PLUGIN_BUILD_DIR)
        set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${WP_PLUGIN_BUILD_DIR})
    endif()
    wp_set_warnings(${name})
    if(TARGET wirepipe::headers)
        target_link_libraries(${name} PRIVATE wirepipe::headers)
    else()
        target_link_libraries(${name} PRIVATE wirepipe_headers)
    endif()
    target_link_libraries(${name} PRIVATE ${ARG_LIBS})
    if(ARG_INCLUDES)
        target_include_directories(${name} PRIVATE ${ARG_INCLUDES})
    endif()
    # Sanitizer builds leave the runtime's symbols to the executable.
    if(NOT WP_SANITIZE)
        target_link_options(${name} PRIVATE -Wl,--no-undefined)
    endif()
    if(WP_PLUGIN_INSTALL_DIR)
        install(TARGETS ${name} LIBRARY DESTINATION ${WP_PLUGIN_INSTALL_DIR})
    endif()
endfunction()
