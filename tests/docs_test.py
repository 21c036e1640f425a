# Copyright 2026 The Revisiting Self-Supervised TF2 Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""The documentation: a short README, pages that link, commands that work.

The README is the ten-minute tour and `docs/` holds the rest; these tests
keep the README short, every relative link and anchor alive, every page
and config script listed, and no citation of anything a user does not
have. The README's module-loading snippet is run on a tiny exported
module.
"""

import pathlib
import re

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
README = REPO / 'README.md'
DOCS = REPO / 'docs'
CONFIG = REPO / 'config'
MAX_README_LINES = 250

# [text](target) and ![alt](target); the text may span lines.
_LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)\)')
_HEADING = re.compile(r'^(#{1,6})\s+(.*?)\s*#*\s*$')
# "issue #12", "#12", "the issue", ".../issues/12".
_ISSUE = re.compile(r'\bissues?\s*#\s*\d+|(?<![\w&])#\d+\b|\bthe issue\b|'
                    r'/issues/\d+', re.IGNORECASE)


def _pages() -> list[pathlib.Path]:
  """Every Markdown page under docs/."""
  return sorted(DOCS.glob('*.md'))


def _linking_files() -> list[pathlib.Path]:
  """The Markdown files whose links must resolve."""
  return [README, *_pages(), CONFIG / 'README.md',
          REPO / 'benchmarks' / 'README.md']


def _user_facing() -> list[pathlib.Path]:
  """What a user reads: the pages and the config scripts' comments."""
  return [README, *_pages(), CONFIG / 'README.md',
          REPO / 'benchmarks' / 'README.md', *sorted(CONFIG.rglob('*.sh'))]


def _code_blocks(text: str) -> list[str]:
  """The indented (and fenced) code blocks of a Markdown text."""
  blocks, current, fenced = [], [], False
  for line in text.splitlines():
    if line.startswith('```'):
      if fenced:
        blocks.append('\n'.join(current))
        current = []
      fenced = not fenced
    elif fenced or line.startswith('    '):
      current.append(line[0 if fenced else 4:])
    elif current and not line.strip():
      current.append('')
    elif current:
      blocks.append('\n'.join(current).strip('\n'))
      current = []
  if current:
    blocks.append('\n'.join(current).strip('\n'))
  return blocks


def _without_code_blocks(text: str) -> str:
  """The text without its indented and fenced code blocks."""
  lines, fenced = [], False
  for line in text.splitlines():
    if line.startswith('```'):
      fenced = not fenced
    elif not fenced and not line.startswith('    '):
      lines.append(line)
  return '\n'.join(lines)


def _prose(text: str) -> str:
  """The text without code blocks and inline code (no links live there)."""
  return re.sub(r'`[^`]*`', '', _without_code_blocks(text))


def _slug(heading: str) -> str:
  """The anchor GitHub gives a heading."""
  text = heading.strip().lower()
  text = re.sub(r'[^\w\- ]', '', text)
  return text.replace(' ', '-')


def _headings(path: pathlib.Path, level: int | None = None) -> list[str]:
  """The headings of a Markdown file, outside code blocks."""
  found = []
  for line in _without_code_blocks(path.read_text()).splitlines():
    match = _HEADING.match(line)
    if match and (level is None or len(match.group(1)) == level):
      found.append(match.group(2))
  return found


def _links(path: pathlib.Path) -> list[str]:
  return _LINK.findall(_prose(path.read_text()))


def _commands(text: str) -> list[str]:
  """The commands of the code blocks, continuation lines joined."""
  commands = []
  for block in _code_blocks(text):
    joined = re.sub(r'\\\n\s*', ' ', block)
    commands += [line.strip() for line in joined.splitlines()
                 if line.strip()]
  return commands


def test_readme_is_short():
  lines = README.read_text().count('\n')
  assert lines < MAX_README_LINES, (
      f'README.md has {lines} lines; move details to docs/.')


@pytest.mark.parametrize('path', _linking_files(),
                         ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(path):
  broken = []
  for target in _links(path):
    if re.match(r'[a-z][a-z0-9+.-]*:', target):  # http:, https:, mailto:
      continue
    file_part, _, anchor = target.partition('#')
    linked = (path.parent / file_part).resolve() if file_part else path
    if not linked.exists():
      broken.append(f'{target} (no such file)')
    elif anchor and linked.suffix == '.md' and anchor not in {
        _slug(h) for h in _headings(linked)}:
      broken.append(f'{target} (no heading with that anchor)')
  assert not broken, f'{path.relative_to(REPO)}: {broken}'


def test_readme_contents_list_every_section():
  text = README.read_text()
  sections = [h for h in _headings(README, level=2) if h != 'Contents']
  contents = text[text.index('## Contents'):]
  contents = contents[:contents.index('\n## ', 1)]
  missing = [h for h in sections if f'(#{_slug(h)})' not in contents]
  assert sections and not missing, missing


def test_docs_index_links_every_page():
  index = DOCS / 'README.md'
  linked = {(DOCS / t.partition('#')[0]).resolve() for t in _links(index)}
  missing = [p.name for p in _pages() if p != index and p not in linked]
  assert not missing, f'docs/README.md does not link {missing}'


def test_readme_links_every_docs_page():
  linked = {(REPO / t.partition('#')[0]).resolve() for t in _links(README)}
  missing = [p.name for p in _pages() if p not in linked]
  assert not missing, f'README.md does not link {missing}'


@pytest.mark.parametrize('path', _user_facing(),
                         ids=lambda p: str(p.relative_to(REPO)))
def test_no_citations_users_cannot_follow(path):
  text = path.read_text()
  assert 'SPEC' not in text, (
      f'{path.relative_to(REPO)} cites SPEC: state the fact or link a page.')
  cited = _ISSUE.findall(text)
  assert not cited, f'{path.relative_to(REPO)} cites an issue: {cited}'


def test_the_citation_check_sees_citations():
  assert _ISSUE.search('as the issue asks')
  assert _ISSUE.search('fixed in issue #12')
  assert _ISSUE.search('(#18, part)')
  assert not _ISSUE.search('see [running](running.md#on-one-gpu)')
  assert not _ISSUE.search('#!/bin/bash\n# a comment')


def test_config_readme_names_every_script():
  listing = (CONFIG / 'README.md').read_text()
  missing = [str(p.relative_to(CONFIG)) for p in sorted(CONFIG.rglob('*.sh'))
             if str(p.relative_to(CONFIG)) not in listing]
  assert not missing, f'config/README.md does not name {missing}'


def test_readme_runs_on_every_kind_of_hardware():
  commands = _commands(README.read_text())
  scripts = [c for c in commands if c.startswith(('./config/', 'config/'))]

  def some(*needles, without=()):
    return any(all(n in c for n in needles) and
               not any(w in c for w in without) for c in scripts)

  assert some('--nouse_tpu', without=('--virtual_replicas', '--num_gpus')), (
      'a CPU command')
  assert some('--nouse_tpu', '--virtual_replicas 8', without=('--num_gpus',)), (
      'a one-GPU command for a TPU recipe, with --virtual_replicas 8')
  assert some('--nouse_tpu', '--num_gpus', '--virtual_replicas'), (
      'a several-GPU command')
  assert some('--tpu_name'), 'a Cloud TPU command'
  assert any(c.startswith('export TF_CONFIG=') for c in commands), (
      'a several-host command')
  assert 'TPU_NAME' in README.read_text()


def _module_snippet() -> str:
  """The README's code block that loads an exported module."""
  (block,) = [b for b in _code_blocks(README.read_text())
              if 'hub.load(path)' in b]
  return block


def test_readme_module_snippet_has_both_loaders():
  snippet = _module_snippet()
  assert 'hub.load(path)' in snippet
  assert ("keras.layers.TFSMLayer(path, call_endpoint='representation')"
          in snippet)


def test_readme_module_snippet_runs(hub_module):
  import tensorflow as tf  # noqa: PLC0415

  images = tf.zeros([2, 32, 32, 3])
  scope = {'path': hub_module, 'images': images}
  exec(_module_snippet(), scope)  # noqa: S102  (our own README's code)
  assert 'pre_logits' in scope['end_points']
  assert scope['end_points']['pre_logits'].shape[0] == 2
  assert scope['logits'].shape == (2, 4)
  assert scope['features'].shape[0] == 2

  # The two loaders themselves, on a zero batch.
  import keras  # noqa: PLC0415
  import tensorflow_hub as hub  # noqa: PLC0415
  outputs = hub.load(hub_module).signatures['representation'](image=images)
  assert 'pre_logits' in outputs
  layer = keras.layers.TFSMLayer(hub_module, call_endpoint='representation')
  outputs = layer(images)
  assert 'pre_logits' in outputs
  assert outputs['pre_logits'].shape[0] == 2
