# WP_SANITIZE: "" (off), "address,undefined", or "thread". Applied to everything the
# project builds, compile and link alike, so plugins and the host agree.
if(WP_SANITIZE)
    if(NOT WP_SANITIZE MATCHES "^(address,undefined|undefined,address|address|undefined|thread)$")
        message(FATAL_ERROR "WP_SANITIZE must be \"address,undefined\" or \"thread\", not '${WP_SANITIZE}'")
    endif()
    add_compile_options(-fsanitize=${WP_SANITIZE} -fno-omit-frame-pointer)
    add_link_options(-fsanitize=${WP_SANITIZE})
    if(WP_SANITIZE MATCHES "undefined")
        add_compile_options(-fno-sanitize-recover=undefined)
    endif()
    add_compile_definitions(WP_SANITIZED=1)
endif()
