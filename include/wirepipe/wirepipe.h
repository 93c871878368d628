/*
 * wirepipe/wirepipe.h - umbrella header: everything public in one include.
 */
#ifndef WIREPIPE_WIREPIPE_H
#define WIREPIPE_WIREPIPE_H

#include <wirepipe/item.h>
#include <wirepipe/log.h>
#include <wirepipe/plugin.h>
#include <wirepipe/status.h>
#include <wirepipe/version.h>

#endif /* WIREPIPE_WIREPIPE_H */
