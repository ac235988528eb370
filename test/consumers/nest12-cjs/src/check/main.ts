// Not part of the README example: starts the README's application with the consumer check's job
// (dist/check/main.js), like src/main.ts does.
import { NestFactory } from '@nestjs/core';
import { CheckModule } from './check.module';

async function bootstrap() {
  const app = await NestFactory.create(CheckModule, { logger: ['error', 'warn'] });
  app.enableShutdownHooks();
  await app.listen(process.env.PORT ?? 3000, '127.0.0.1');
  process.stdout.write(`listening ${process.env.PORT ?? 3000}\n`);
}
void bootstrap();
