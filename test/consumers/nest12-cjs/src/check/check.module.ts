// Not part of the README example: the README's AppModule plus the every-second job the consumer
// check observes.
import { Module } from '@nestjs/common';
import { AppModule } from '../app.module';
import { TickJob, TicksController } from './tick.job';

@Module({ imports: [AppModule], controllers: [TicksController], providers: [TickJob] })
export class CheckModule {}
