# wp_add_plugin(<name> SOURCES <file>... [LIBS <target>...] [INCLUDES <dir>...]
#               [DESTINATION <dir>] [NO_INSTALL])
#
# The one recipe for a stage plugin: a MODULE library named exactly <name>.so that
# exports only wp_plugin_<name>, links without undefined symbols, and installs into
# the plugin folder. Used in-tree and, installed, by out-of-tree plugins.
#
# Install folder: DESTINATION, else WP_PLUGIN_INSTALL_DIR (in tree: the project's; out of
# tree: set by find_package(wirepipe) to the plugin folder relative to the install prefix,
# a cache variable that may be made absolute). NO_INSTALL adds no install rule.
#
# -Wl,--no-undefined is left out when the plugin is built with a sanitizer (WP_SANITIZE,
# or -fsanitize= anywhere in the C or link flags or the target's options): clang links the
# sanitizer runtime into executables only, so a plugin's __asan_* / __ubsan_* references
# are resolved by the host at load time. WP_PLUGIN_NO_UNDEFINED=OFF leaves it out always.
include_guard(GLOBAL)

if(NOT COMMAND wp_set_warnings)
    include(${CMAKE_CURRENT_LIST_DIR}/Warnings.cmake)
endif()

option(WP_PLUGIN_NO_UNDEFINED "Link plugins with -Wl,--no-undefined (unless sanitized)" ON)

# True in @out when @target is built with a sanitizer; called at the end of the directory
# that made the target, when every flag is known.
function(_wp_plugin_sanitized target out)
    set(flags "${CMAKE_C_FLAGS} ${CMAKE_MODULE_LINKER_FLAGS} ${CMAKE_SHARED_LINKER_FLAGS}")
    if(CMAKE_BUILD_TYPE)
        string(TOUPPER "${CMAKE_BUILD_TYPE}" config)
        string(APPEND flags " ${CMAKE_C_FLAGS_${config}} ${CMAKE_MODULE_LINKER_FLAGS_${config}}")
    endif()
    foreach(property COMPILE_OPTIONS LINK_OPTIONS)
        get_target_property(values ${target} ${property})
        if(values)
            string(APPEND flags " ${values}")
        endif()
        get_directory_property(values ${property})
        if(values)
            string(APPEND flags " ${values}")
        endif()
    endforeach()
    if(WP_SANITIZE OR flags MATCHES "-fsanitize=")
        set(${out} TRUE PARENT_SCOPE)
    else()
        set(${out} FALSE PARENT_SCOPE)
    endif()
endfunction()

function(_wp_plugin_link_checks target)
    _wp_plugin_sanitized(${target} sanitized)
    if(WP_PLUGIN_NO_UNDEFINED AND NOT sanitized)
        target_link_options(${target} PRIVATE -Wl,--no-undefined)
    endif()
endfunction()

function(wp_add_plugin name)
    cmake_parse_arguments(ARG "NO_INSTALL" "DESTINATION" "SOURCES;LIBS;INCLUDES" ${ARGN})
    if(NOT ARG_SOURCES)
        message(FATAL_ERROR "wp_add_plugin(${name}): SOURCES is required")
    endif()
    add_library(${name} MODULE ${ARG_SOURCES})
    set_target_properties(${name} PROPERTIES
        PREFIX ""
        SUFFIX ".so"
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
    # Decided when the calling directory is done, so flags set after this call count
    # (EVAL, because a deferred call's arguments are expanded only when it runs).
    cmake_language(EVAL CODE "cmake_language(DEFER CALL _wp_plugin_link_checks [[${name}]])")

    if(ARG_DESTINATION)
        set(destination ${ARG_DESTINATION})
    else()
        set(destination ${WP_PLUGIN_INSTALL_DIR})
    endif()
    if(NOT ARG_NO_INSTALL)
        if(NOT destination)
            message(FATAL_ERROR "wp_add_plugin(${name}): no install folder: give DESTINATION, "
                "set WP_PLUGIN_INSTALL_DIR, or say NO_INSTALL")
        endif()
        install(TARGETS ${name} LIBRARY DESTINATION ${destination})
    endif()
endfunction()
