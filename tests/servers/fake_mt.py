#!/usr/bin/env python3
"""Fake machine-translation server for the translate plugin's tests.

Speaks the request and reply shapes of DeepL v2 (POST /v2/translate), Google v2
(POST /language/translate/v2), Azure v3 (POST /translate?api-version=3.0), LibreTranslate
(POST /translate with a JSON body) and Apertium APy (POST /translate with a form body).
It "translates" deterministically: letters are upper-cased, except inside no-translate
markup (<x>...</x>, <span translate="no">...</span>), tags, character references and
placeholder tokens (ZXN?<digits>), which come back unchanged.

Binds 127.0.0.1 on a free port (or --port) and prints the port on the first stdout line.

Failures are scripted: each request to a translate route takes the next action from a
queue (default "ok" when empty). Set the queue with --script a,b,c, or at run time with
POST /_control/script (body: JSON list). Actions:
  ok            translate
  429[:s]       429 with Retry-After: s (default 1)
  503           503 with a JSON error
  456           DeepL quota exhausted
  403quota      Google dailyLimitExceeded / Azure 403001 / others 403
  403           bad key
  slow:s        sleep s seconds, then translate
  truncate      HTTP 200 with the JSON body cut in half
  invalid       HTTP 200 with a body that is not JSON
  short         HTTP 200 with one translation fewer than asked for
  cut           (APy) HTTP 200, the text cut so the end sentinel is lost
  drop-name     translate but lose the first placeholder / no-translate span
Every request to a translate route is appended as one JSON line to --log (path, provider,
number of segments, whether the expected key was presented, action) - never the key itself.
GET /_control/count answers the number of translate requests so far; POST /_control/reset
clears the queue and the count. The expected key is taken from the environment variable
FAKE_MT_KEY (unset: any key, or none, is accepted).
"""
import argparse
import json
import os
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PROTECTED = re.compile(
    r'(<x\b[^>]*>.*?</x>|<span translate="no"[^>]*>.*?</span>|<[^>]+>|&#?\w+;|ZXN[A-Z]\d+)',
    re.S)
NAME = re.compile(r'(<x\b[^>]*>.*?</x>|<span translate="no"[^>]*>.*?</span>|ZXN[A-Z]\d+)', re.S)


def fake_translate(text):
    parts = PROTECTED.split(text)
    return ''.join(p if i % 2 else p.upper() for i, p in enumerate(parts))


class State:
    def __init__(self, script, log_path):
        self.lock = threading.Lock()
        self.queue = list(script)
        self.count = 0
        self.log_path = log_path

    def next_action(self):
        with self.lock:
            self.count += 1
            return self.queue.pop(0) if self.queue else 'ok'

    def log(self, entry):
        if not self.log_path:
            return
        with self.lock, open(self.log_path, 'a', encoding='utf-8') as f:
            f.write(json.dumps(entry) + '\n')


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'fake-mt/1'

    def log_message(self, fmt, *args):  # keep stderr quiet
        pass

    def reply(self, status, body, ctype='application/json', headers=None):
        data = body if isinstance(body, bytes) else body.encode('utf-8')
        self.send_response(status)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        state = self.server.state
        if self.path == '/_control/count':
            self.reply(200, json.dumps({'count': state.count}))
        elif self.path.startswith('/listPairs'):
            self.reply(200, json.dumps({'responseData': [
                {'sourceLanguage': 'eng', 'targetLanguage': 'spa'}]}))
        else:
            self.reply(404, '<html>not found</html>', 'text/html')

    def do_POST(self):
        state = self.server.state
        length = int(self.headers.get('Content-Length') or 0)
        raw = self.rfile.read(length)
        path = urllib.parse.urlsplit(self.path).path
        if path == '/_control/script':
            with state.lock:
                state.queue = list(json.loads(raw or b'[]'))
            self.reply(200, '{}')
            return
        if path == '/_control/reset':
            with state.lock:
                state.queue = []
                state.count = 0
            self.reply(200, '{}')
            return
        routes = {
            '/v2/translate': self.deepl,
            '/language/translate/v2': self.google,
        }
        ctype = self.headers.get('Content-Type', '')
        if path == '/translate':
            if 'api-version' in self.path:
                handler = self.azure
            elif ctype.startswith('application/json'):
                handler = self.libre
            else:
                handler = self.apy
        else:
            handler = routes.get(path)
        if not handler:
            self.reply(404, '<html>not found</html>', 'text/html')
            return
        action = state.next_action()
        try:
            handler(raw, action)
        except (ValueError, KeyError, TypeError) as e:
            self.reply(400, json.dumps({'message': 'bad request: %s' % e, 'error': str(e)}))

    # -- helpers ------------------------------------------------------------------

    def key_ok(self, presented):
        expected = os.environ.get('FAKE_MT_KEY')
        return expected is None or presented == expected

    def record(self, provider, segments, action, key_ok, extra=None):
        entry = {'path': self.path.split('?')[0], 'provider': provider, 'segments': segments,
                 'action': action, 'key_ok': key_ok}
        entry.update(extra or {})
        self.server.state.log(entry)

    def failure(self, action, provider):
        """Send the scripted failure; return True when one was sent."""
        if action.startswith('slow:'):
            time.sleep(float(action.split(':', 1)[1]))
            return False
        if action.startswith('429'):
            wait = action.split(':', 1)[1] if ':' in action else '1'
            self.reply(429, json.dumps({'message': 'Too many requests', 'error': 'Slowdown'}),
                       headers={'Retry-After': wait})
            return True
        if action == '503':
            self.reply(503, json.dumps({'message': 'Service unavailable',
                                        'error': {'code': 503000, 'message': 'busy'}}))
            return True
        if action == '456':
            self.reply(456, json.dumps({'message': 'Quota exceeded'}))
            return True
        if action == '403quota':
            if provider == 'google':
                body = {'error': {'code': 403, 'message': 'Daily Limit Exceeded',
                                  'errors': [{'domain': 'usageLimits',
                                              'reason': 'dailyLimitExceeded'}]}}
            elif provider == 'azure':
                body = {'error': {'code': 403001, 'message': 'free quota used up'}}
            else:
                body = {'error': 'quota', 'message': 'quota'}
            self.reply(403, json.dumps(body))
            return True
        if action == '403':
            self.reply(403, json.dumps({'message': 'Forbidden', 'error': 'Invalid API key'}))
            return True
        if action == 'invalid':
            self.reply(200, '<html>Gateway says hello</html>')
            return True
        return False

    def send_result(self, action, body):
        text = json.dumps(body, ensure_ascii=False)
        if action == 'truncate':
            data = text.encode('utf-8')
            self.reply(200, data[:len(data) // 2])
        else:
            self.reply(200, text)

    @staticmethod
    def translate_all(texts, action):
        out = [fake_translate(t) for t in texts]
        if action == 'drop-name' and out:
            out[0] = NAME.sub('', out[0], count=1)
        if action == 'short' and out:
            out = out[:-1]
        return out

    # -- providers ----------------------------------------------------------------

    def deepl(self, raw, action):
        auth = self.headers.get('Authorization', '')
        key = auth[len('DeepL-Auth-Key '):] if auth.startswith('DeepL-Auth-Key ') else None
        req = json.loads(raw)
        texts = req['text']
        ok = key is not None and self.key_ok(key)
        self.record('deepl', len(texts), action, ok,
                    {'target_lang': req.get('target_lang'),
                     'tag_handling': req.get('tag_handling')})
        if not ok:
            self.reply(403, json.dumps({'message': 'Wrong key'}))
            return
        if self.failure(action, 'deepl'):
            return
        self.send_result(action, {'translations': [
            {'detected_source_language': 'EN', 'text': t}
            for t in self.translate_all(texts, action)]})

    def google(self, raw, action):
        key = self.headers.get('X-goog-api-key')
        req = json.loads(raw)
        texts = req['q']
        ok = key is not None and self.key_ok(key) and 'key=' not in self.path
        self.record('google', len(texts), action, ok, {'format': req.get('format')})
        if not ok:
            self.reply(403, json.dumps({'error': {'code': 403, 'message': 'bad key'}}))
            return
        if self.failure(action, 'google'):
            return
        if req.get('format') != 'html' and any('<span' in t for t in texts):
            raise ValueError('markup sent with format=text')
        items = []
        for t in self.translate_all(texts, action):
            item = {'translatedText': t}
            if 'source' not in req:
                item['detectedSourceLanguage'] = 'en'
            items.append(item)
        self.send_result(action, {'data': {'translations': items}})

    def azure(self, raw, action):
        key = self.headers.get('Ocp-Apim-Subscription-Key')
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        req = json.loads(raw)
        texts = [e['Text'] for e in req]
        ok = key is not None and self.key_ok(key)
        self.record('azure', len(texts), action, ok,
                    {'to': query.get('to'), 'textType': query.get('textType'),
                     'region': self.headers.get('Ocp-Apim-Subscription-Region')})
        if not ok:
            self.reply(401, json.dumps({'error': {'code': 401000, 'message': 'bad key'}}))
            return
        if self.failure(action, 'azure'):
            return
        to = query.get('to', ['xx'])[0]
        self.send_result(action, [
            {'detectedLanguage': {'language': 'en', 'score': 1.0},
             'translations': [{'text': t, 'to': to}]}
            for t in self.translate_all(texts, action)])

    def libre(self, raw, action):
        req = json.loads(raw)
        texts = req['q'] if isinstance(req['q'], list) else [req['q']]
        ok = self.key_ok(req.get('api_key'))
        self.record('libretranslate', len(texts), action, ok, {'format': req.get('format')})
        if not ok:
            self.reply(403, json.dumps({'error': 'Invalid API key'}))
            return
        if self.failure(action, 'libretranslate'):
            return
        out = self.translate_all(texts, action)
        body = {'translatedText': out if isinstance(req['q'], list) else out[0]}
        if req.get('source') == 'auto':
            body['detectedLanguage'] = [{'confidence': 90, 'language': 'en'}] * len(out)
        self.send_result(action, body)

    def apy(self, raw, action):
        form = urllib.parse.parse_qs(raw.decode('utf-8'), keep_blank_values=True)
        q = form.get('q', [''])[0]
        pair = form.get('langpair', [''])[0]
        self.record('apertium', q.count('ZXQ7SEP') + 1, action, True, {'langpair': pair})
        if '|' not in pair:
            self.reply(400, json.dumps({'status': 'error', 'code': 400,
                                        'explanation': 'Missing argument langpair'}))
            return
        if self.failure(action, 'apertium'):
            return
        text = fake_translate(q.strip())
        if action == 'cut':
            text = text[:len(text) // 2]
        if action == 'drop-name':
            text = NAME.sub('', text, count=1)
        self.send_result(action, {'responseData': {'translatedText': text},
                                  'responseDetails': None, 'responseStatus': 200})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--log', default=os.environ.get('FAKE_MT_LOG'))
    ap.add_argument('--script', default=os.environ.get('FAKE_MT_SCRIPT', ''))
    args = ap.parse_args()
    script = [a for a in args.script.split(',') if a]
    server = ThreadingHTTPServer(('127.0.0.1', args.port), Handler)
    server.daemon_threads = True
    server.state = State(script, args.log)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    sys.exit(main())
