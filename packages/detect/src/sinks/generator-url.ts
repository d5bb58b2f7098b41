import { httpUrl } from './http-options.ts';

/**
 * Checks a URL meant for an Alertmanager alert's `generatorURL`: an http(s) URL Alertmanager
 * takes. It answers 422 to a whole POST whose generatorURL is not a URI to Go's
 * url.ParseRequestURI, a final answer that loses every alert carrying it. WHATWG's URL parser
 * (httpUrl) forgives some of those: it strips surrounding spaces and control characters (a
 * trailing newline from a YAML `>` block) and tabs or newlines inside, and passes a `%` not
 * followed by two hex digits. Checked on Alertmanager 0.25 (sink-alertmanager-generator-url).
 */
export function checkGeneratorUrl(sink: string, name: string, value: string): void {
  httpUrl(sink, name, value);
  if (value.trim() !== value || /[\u0000-\u001f\u007f]/.test(value)) {
    throw new Error(
      `${sink}: ${name} has whitespace around it or a control character in it (Alertmanager refuses such a generatorURL): ${JSON.stringify(value)}`,
    );
  }
  if (/%(?![0-9A-Fa-f]{2})/.test(value)) {
    throw new Error(
      `${sink}: ${name} has a % not followed by two hex digits (Alertmanager refuses such a generatorURL): ${JSON.stringify(value)}`,
    );
  }
}
